//! `pack-verify`: what an OpenWOP host links to decide whether a pack may be installed.
//!
//! It checks, without network access and without extracting anything first:
//! the integrity of the exact `.tgz` bytes, the safety of every tar entry, the Ed25519
//! signature under the pack's convention (`manual` over `pack.json`, `ed25519` over the
//! tarball), that the signing key is trusted by the pinned root and permitted for the pack's
//! namespace at its publish time, the registry's signed version statement where the registry
//! issues them, and the yank flag.
//!
//! ```no_run
//! use pack_verify::{TrustBundle, TrustState, Verifier, VersionInput};
//! use pack_verify::trust::{ExpiryPolicy, SystemClock};
//!
//! # fn main() -> Result<(), pack_verify::VerifyError> {
//! let bundle = TrustBundle::reference()?;
//! let mut state = TrustState::new();
//! let root = bundle.resolve(None, &mut state, &SystemClock, ExpiryPolicy::Enforce)?;
//! let verifier = Verifier::new(root).refuse_yanked(true);
//! let (manifest, tarball, sig) = (std::fs::read("1.1.0.json").unwrap(), std::fs::read("1.1.0.tgz").unwrap(), std::fs::read("1.1.0.sig").unwrap());
//! let verified = verifier.verify(&VersionInput {
//!     manifest: &manifest, tarball: &tarball, signature: &sig, statement: None,
//!     expected: Some(("core.openwop.flow", "1.1.0")),
//!     other_versions: &[],
//! })?;
//! for file in verified.archive.files() { println!("{}", file.path); }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod canonical;
#[cfg(feature = "corpus")]
pub mod corpus;
pub mod error;
pub mod integrity;
pub mod keys;
mod lenient;
pub mod manifest;
pub mod names;
pub mod parallel;
pub mod range;
pub mod registry;
pub mod signature;
pub mod tarball;
pub mod trust;
pub mod verify;

pub use error::{Result, VerifyError};
pub use integrity::Integrity;
pub use keys::{PrivateKey, PublicKey};
pub use signature::{Signature, SigningMethod};
pub use tarball::{PackArchive, PackFile, TarLimits};
pub use trust::{TrustBundle, TrustRoot, TrustState};
pub use verify::{KeptFiles, PackJsonOnly, VerifiedVersion, Verifier, VersionInput};
