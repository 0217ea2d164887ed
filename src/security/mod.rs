//! Security building blocks: one-time codes, the member-wide lockout, password policy and hashing, masking.

pub mod lockout;
pub mod mask;
pub mod otp;
pub mod password;
