//! The work behind the commands, callable without the command line (tests, other front ends).

pub mod build;
pub mod bundle;
pub mod fsutil;
pub mod init;
pub mod keychain;
pub mod keyfile;
pub mod names;
pub mod sign;
pub mod source;
pub mod verify;
