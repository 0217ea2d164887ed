//! Security building blocks: one-time codes, password policy and hashing, masking.

pub mod mask;
pub mod otp;
pub mod password;
