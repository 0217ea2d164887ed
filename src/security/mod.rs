//! Security building blocks: one-time codes, the member-wide lockout, password policy and hashing,
//! the password page's link tokens, masking.

pub mod lockout;
pub mod mask;
pub mod otp;
pub mod page_token;
pub mod password;
