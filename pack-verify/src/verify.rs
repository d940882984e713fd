//! Verifying one version, or many at once with batched signature checks.
//!
//! The order of checks is fixed and cheap-first, and nothing is decompressed before the
//! integrity of the exact `.tgz` bytes has been checked:
//!
//! 1. the version manifest parses and names the expected pack and version;
//! 2. SHA-256 of the `.tgz` equals the manifest's `integrity`;
//! 3. where the trust root requires it, the registry's signed statement binds the same name,
//!    version, integrity and signer, and gives the publish time;
//! 4. the signing key is in the trust root, may sign this namespace, and was valid then;
//! 5. the tarball passes the safe reader; its `pack.json` names the same pack, version and
//!    signer; under `manual` the embedded signature equals the detached one;
//! 6. the Ed25519 signature verifies over the bytes its convention covers.
//!
//! When the last check fails, the verifier looks for a better explanation than "does not
//! verify" before it reports (the failure path only, so it costs nothing on success): a
//! signature made by another trusted key (`pack_signature_wrong_key`), or one made for another
//! version of the same pack (`pack_signature_reused`).

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::error::VerifyError;
use crate::integrity::Integrity;
use crate::manifest::{PackJson, VersionManifest};
use crate::signature::{BatchTerm, Signature, SignatureCheck, SigningMethod, verify_batch_terms};
use crate::tarball::{EMBEDDED_SIGNATURE, PACK_JSON, PackArchive, TarLimits, read_pack_keeping};
use crate::trust::{TrustRoot, VersionStatement, parse_time};

/// The raw bytes of one published version, exactly as fetched.
#[derive(Debug, Clone, Copy, Default)]
pub struct VersionInput<'a> {
    /// The served version manifest (`…/{version}.json`).
    pub manifest: &'a [u8],
    /// The `.tgz`.
    pub tarball: &'a [u8],
    /// The detached signature (`…/{version}.sig`).
    pub signature: &'a [u8],
    /// The registry's version statement, where the registry signs them.
    pub statement: Option<&'a [u8]>,
    /// Name and version the caller asked for (from the URL or lockfile), if any.
    pub expected: Option<(&'a str, &'a str)>,
    /// Other versions of the same pack the caller knows of (from the pack index or the
    /// registry's own rows). Only used to explain a failed signature as a replay.
    pub other_versions: &'a [String],
}

/// A version every check passed for. Only [`Verifier`] constructs it.
///
/// `A` is what was kept of the pack's files: all of them ([`PackArchive`], to install) or only
/// `pack.json` ([`PackJsonOnly`], from [`Verifier::check_all_loaded`], which needs verdicts).
#[derive(Debug, Clone)]
pub struct VerifiedVersion<A = PackArchive> {
    /// Pack name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Integrity of the tarball.
    pub integrity: Integrity,
    /// Key that signed the pack.
    pub signing_key_id: String,
    /// Convention used.
    pub method: SigningMethod,
    /// Publish time, from the signed statement where there is one.
    pub published_at: Option<OffsetDateTime>,
    /// Whether the registry marks it yanked.
    pub yanked: bool,
    /// Why, if so.
    pub yanked_reason: Option<String>,
    /// Whether the registry marks it deprecated.
    pub deprecated: bool,
    /// The served manifest.
    pub manifest: VersionManifest,
    /// The files, ready to install (or, for a verdict, `pack.json` alone).
    pub archive: A,
}

/// What a verification keeps of a pack's files once they passed the safe reader.
pub trait KeptFiles: Send + Sized {
    /// Keeps what this kind holds of `archive`.
    fn keep(archive: PackArchive) -> Self;
    /// The exact bytes of `pack.json` (what a `manual` signature covers).
    fn pack_json(&self) -> &[u8];
    /// Whether this kind needs the data of the archive file at `path`; the safe reader checks
    /// every entry but copies out only these. Must hold for `pack.json` and the embedded
    /// signature (what verification itself compares).
    fn needs(path: &str) -> bool;
}

impl KeptFiles for PackArchive {
    fn keep(archive: PackArchive) -> Self {
        archive
    }

    fn pack_json(&self) -> &[u8] {
        PackArchive::pack_json(self)
    }

    fn needs(_: &str) -> bool {
        true
    }
}

/// Only the exact bytes of `pack.json`: what a verdict on many versions keeps, so that a
/// registry's unpacked files are not all held until the batch equation has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackJsonOnly(Vec<u8>);

impl KeptFiles for PackJsonOnly {
    fn keep(archive: PackArchive) -> Self {
        PackJsonOnly(archive.into_pack_json())
    }

    fn pack_json(&self) -> &[u8] {
        &self.0
    }

    fn needs(path: &str) -> bool {
        path == PACK_JSON || path == EMBEDDED_SIGNATURE
    }
}

/// Verifies versions against one registry's [`TrustRoot`].
#[derive(Debug, Clone)]
pub struct Verifier {
    root: TrustRoot,
    limits: TarLimits,
    refuse_yanked: bool,
    /// Worker threads for [`Verifier::verify_all`]; 0 means one per available core.
    jobs: usize,
}

/// Everything but the signature equation, done. It borrows the caller's bytes (`'a`) only where
/// [`Verifier::verify`] checks one version; the batch paths detach it on the worker so that the
/// loaded bytes can be freed there.
struct Prepared<'a, A> {
    manifest: VersionManifest,
    files: A,
    key_id: String,
    method: SigningMethod,
    published_at: Option<OffsetDateTime>,
    signature: Signature,
    key: crate::keys::PublicKey,
    /// The `.tgz` under the `tarball` convention (what its signature covers); `None` under
    /// `manual`, whose message is `pack.json` in `files`.
    tarball: Option<Cow<'a, [u8]>>,
    /// Other versions of the pack, to explain a failed signature as a replay.
    other_versions: Cow<'a, [String]>,
}

impl<A: KeptFiles> Prepared<'_, A> {
    fn message(&self) -> &[u8] {
        match &self.tarball {
            Some(tarball) => tarball,
            None => self.files.pack_json(),
        }
    }

    fn check(&self) -> SignatureCheck<'_> {
        SignatureCheck { message: self.message(), signature: self.signature, key: self.key }
    }

    /// Owns what it borrowed, so that it outlives the input's bytes.
    fn detach(self) -> Prepared<'static, A> {
        Prepared {
            manifest: self.manifest,
            files: self.files,
            key_id: self.key_id,
            method: self.method,
            published_at: self.published_at,
            signature: self.signature,
            key: self.key,
            tarball: self.tarball.map(|t| Cow::Owned(t.into_owned())),
            other_versions: Cow::Owned(self.other_versions.into_owned()),
        }
    }
}

impl Verifier {
    /// A verifier for `root` with default limits that reports, but does not refuse, yanked
    /// versions.
    pub fn new(root: TrustRoot) -> Self {
        Verifier { root, limits: TarLimits::default(), refuse_yanked: false, jobs: 0 }
    }

    /// Limits [`Verifier::verify_all`] to `jobs` threads (0: one per available core).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    /// Uses other tarball limits.
    pub fn with_limits(mut self, limits: TarLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Refuses yanked versions with `pack_yanked` (the `verified` trust mode for new installs).
    pub fn refuse_yanked(mut self, refuse: bool) -> Self {
        self.refuse_yanked = refuse;
        self
    }

    /// The trust root in use.
    pub fn root(&self) -> &TrustRoot {
        &self.root
    }

    /// The tarball limits in use.
    pub fn limits(&self) -> &TarLimits {
        &self.limits
    }

    /// Verifies one version.
    pub fn verify(&self, input: &VersionInput<'_>) -> Result<VerifiedVersion, VerifyError> {
        let prepared = self.prepare::<PackArchive>(input)?;
        let check = prepared.check();
        let ok = check.key.verify(check.message, &check.signature);
        self.finish(prepared, ok)
    }

    /// Verifies many versions: preparation, including each signature's share of the batch
    /// equation (its SHA-512 challenge and decoded point), runs on all cores; then each worker
    /// puts the signatures it prepared through one batch equation (see
    /// [`crate::signature::verify_batch`]). Results come back in input order.
    pub fn verify_all(&self, inputs: &[VersionInput<'_>]) -> Vec<Result<VerifiedVersion, VerifyError>> {
        self.verify_all_loaded(inputs, |_| Ok(()), |input, ()| *input)
    }

    /// [`verify_all`](Self::verify_all) over items whose bytes `load` produces (reads files,
    /// say) on the worker that then prepares them, so that loading one version overlaps with
    /// preparing another instead of all loading finishing first. `input` views an item and what
    /// was loaded for it as a [`VersionInput`]; a load error is that item's result. What was
    /// loaded is freed on the worker once the version is prepared; under the `tarball`
    /// convention the `.tgz` is kept until the batch equation has run, since it is the message.
    pub fn verify_all_loaded<T, F>(
        &self,
        items: &[T],
        load: impl Fn(&T) -> Result<F, VerifyError> + Sync,
        input: impl for<'a> Fn(&'a T, &'a F) -> VersionInput<'a> + Sync,
    ) -> Vec<Result<VerifiedVersion, VerifyError>>
    where
        T: Sync,
    {
        self.run_all(items, load, input)
    }

    /// [`verify_all_loaded`](Self::verify_all_loaded) for a caller that needs verdicts, not
    /// files (walking a whole registry, say): the same checks in the same order, but each
    /// version's unpacked files are dropped on its worker once they passed the safe reader, so
    /// memory stays proportional to one version per worker plus the signed messages, not to
    /// every pack unpacked at once.
    pub fn check_all_loaded<T, F>(
        &self,
        items: &[T],
        load: impl Fn(&T) -> Result<F, VerifyError> + Sync,
        input: impl for<'a> Fn(&'a T, &'a F) -> VersionInput<'a> + Sync,
    ) -> Vec<Result<VerifiedVersion<PackJsonOnly>, VerifyError>>
    where
        T: Sync,
    {
        self.run_all(items, load, input)
    }

    /// The one batch path behind [`verify_all_loaded`](Self::verify_all_loaded) and
    /// [`check_all_loaded`](Self::check_all_loaded); `A` is what is kept of each pack's files.
    fn run_all<T, F, A: KeptFiles>(
        &self,
        items: &[T],
        load: impl Fn(&T) -> Result<F, VerifyError> + Sync,
        input: impl for<'a> Fn(&'a T, &'a F) -> VersionInput<'a> + Sync,
    ) -> Vec<Result<VerifiedVersion<A>, VerifyError>>
    where
        T: Sync,
    {
        // Each worker puts the signatures it prepared through one batch equation of its own as
        // soon as its share is done, so the equations overlap each other and the last items.
        let prepared = crate::parallel::map_then(
            self.jobs,
            items,
            |item| {
                let loaded = load(item)?;
                let p = self.prepare::<A>(&input(item, &loaded))?.detach();
                let term = p.check().batch_term();
                Ok((p, term, false))
            },
            |share| {
                let verdicts = {
                    let (checks, terms): (Vec<SignatureCheck<'_>>, Vec<Option<BatchTerm>>) =
                        share.iter().filter_map(|r| r.as_ref().ok()).map(|(p, term, _)| (p.check(), *term)).unzip();
                    verify_batch_terms(&checks, &terms)
                };
                for ((_, _, ok), verdict) in share.iter_mut().filter_map(|r| r.as_mut().ok()).zip(verdicts) {
                    *ok = verdict;
                }
            },
            || Err(VerifyError::Io { what: "verifier thread".into(), detail: "panicked".into() }),
        );
        prepared.into_iter().map(|r| r.and_then(|(p, _, ok)| self.finish(p, ok))).collect()
    }

    fn prepare<'a, A: KeptFiles>(&self, input: &VersionInput<'a>) -> Result<Prepared<'a, A>, VerifyError> {
        let manifest = VersionManifest::parse(input.manifest)?;
        if let Some((name, version)) = input.expected {
            same_identity(name, version, &manifest.name, &manifest.version)?;
        }
        manifest.integrity.check(input.tarball)?;
        let signing = manifest.signing.clone().ok_or(VerifyError::Unsigned)?;

        let published_at = if self.root.requires_statements() {
            let bytes = input.statement.ok_or(VerifyError::StatementMissing)?;
            let statement = VersionStatement::verify(bytes, &self.root)?;
            check_statement(&statement, &manifest, &signing.key_id)?;
            Some(statement.published_at)
        } else {
            // Unsigned metadata; only used where the pinned keys carry no validity window.
            manifest.published_at.as_deref().and_then(|p| parse_time(p, "publishedAt").ok())
        };

        let key = self.root.authorize_publisher(&signing.key_id, &manifest.name, published_at)?.key;
        let signature = Signature::from_bytes(input.signature)?;
        let archive = read_pack_keeping(input.tarball, &self.limits, &A::needs)?;
        let pack_json = PackJson::parse(archive.pack_json())?;
        same_identity(&manifest.name, &manifest.version, &pack_json.name, &pack_json.version)?;

        if signing.method == SigningMethod::Manual {
            let embedded_signer = pack_json.signing.as_ref().map(|s| s.key_id.as_str()).unwrap_or("(none)");
            if embedded_signer != signing.key_id {
                return Err(VerifyError::SignerMismatch {
                    expected: signing.key_id.clone(),
                    found: embedded_signer.to_string(),
                });
            }
            if archive.get(EMBEDDED_SIGNATURE) != Some(input.signature) {
                return Err(VerifyError::SignatureMismatch);
            }
        }
        let tarball = (signing.method == SigningMethod::Tarball).then_some(Cow::Borrowed(input.tarball));
        Ok(Prepared {
            manifest,
            files: A::keep(archive),
            key_id: signing.key_id,
            method: signing.method,
            published_at,
            signature,
            key,
            tarball,
            other_versions: Cow::Borrowed(input.other_versions),
        })
    }

    fn finish<A: KeptFiles>(&self, p: Prepared<'_, A>, signature_ok: bool) -> Result<VerifiedVersion<A>, VerifyError> {
        if !signature_ok {
            return Err(self.explain_bad_signature(&p));
        }
        if self.refuse_yanked && p.manifest.lifecycle.yanked {
            return Err(VerifyError::Yanked {
                name: p.manifest.name.clone(),
                version: p.manifest.version.clone(),
                reason: p.manifest.lifecycle.yanked_reason.clone(),
            });
        }
        Ok(VerifiedVersion {
            name: p.manifest.name.clone(),
            version: p.manifest.version.clone(),
            integrity: p.manifest.integrity,
            signing_key_id: p.key_id,
            method: p.method,
            published_at: p.published_at,
            yanked: p.manifest.lifecycle.yanked,
            yanked_reason: p.manifest.lifecycle.yanked_reason.clone(),
            deprecated: p.manifest.lifecycle.deprecated(),
            manifest: p.manifest,
            archive: p.files,
        })
    }
}

impl Verifier {
    /// The most specific reason a signature that does not verify can be given.
    fn explain_bad_signature<A: KeptFiles>(&self, p: &Prepared<'_, A>) -> VerifyError {
        let message = p.message();
        // Signed, validly, by a key the root trusts, but not the declared one.
        if let Some(other) = self.root.keys().find(|k| k.key_id != p.key_id && k.key.verify(message, &p.signature)) {
            return VerifyError::SignatureWrongKey { declared: p.key_id.clone(), actual: other.key_id.clone() };
        }
        // The declared key's signature over this pack.json as it read for another version.
        if p.method == SigningMethod::Manual {
            let version = &p.manifest.version;
            for other in p.other_versions.iter().filter(|v| *v != version) {
                if with_version(message, version, other).iter().any(|m| p.key.verify(m, &p.signature)) {
                    return VerifyError::SignatureReused {
                        name: p.manifest.name.clone(),
                        version: version.clone(),
                        from_version: other.clone(),
                    };
                }
            }
        }
        let subject = match p.method {
            SigningMethod::Manual => "pack.json",
            SigningMethod::Tarball => "tarball",
        };
        VerifyError::SignatureInvalid { subject: subject.into(), key_id: p.key_id.clone() }
    }
}

/// `pack.json` as it would have read with `other` as its version, in the layouts a publisher
/// signs: the same bytes with the version string replaced, and the canonical compact and
/// pretty forms. Bounded: at most three candidates per other version.
fn with_version(pack_json: &[u8], version: &str, other: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(3);
    if let Ok(text) = std::str::from_utf8(pack_json) {
        for sep in [":", ": "] {
            let from = format!("\"version\"{sep}\"{version}\"");
            if text.contains(&from) {
                out.push(text.replacen(&from, &format!("\"version\"{sep}\"{other}\""), 1).into_bytes());
                break;
            }
        }
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(pack_json)
        && let Some(obj) = value.as_object_mut()
    {
        obj.insert("version".into(), serde_json::Value::String(other.to_string()));
        out.push(crate::canonical::to_canonical_vec(&value));
        out.push((crate::canonical::to_canonical_pretty(&value) + "\n").into_bytes());
    }
    out
}

fn same_identity(expected_name: &str, expected_version: &str, name: &str, version: &str) -> Result<(), VerifyError> {
    if name != expected_name {
        return Err(VerifyError::NameMismatch { expected: expected_name.to_string(), found: name.to_string() });
    }
    if version != expected_version {
        return Err(VerifyError::VersionMismatch {
            expected: expected_version.to_string(),
            found: version.to_string(),
        });
    }
    Ok(())
}

fn check_statement(statement: &VersionStatement, manifest: &VersionManifest, key_id: &str) -> Result<(), VerifyError> {
    let doc = &statement.doc;
    let pairs: [(&'static str, &str, String); 4] = [
        ("name", &doc.name, manifest.name.clone()),
        ("version", &doc.version, manifest.version.clone()),
        ("integrity", &doc.integrity, manifest.integrity.to_string()),
        ("signingKeyId", &doc.signing_key_id, key_id.to_string()),
    ];
    for (field, stated, actual) in pairs {
        if stated != actual {
            return Err(VerifyError::StatementMismatch { field, statement: stated.to_string(), actual });
        }
    }
    Ok(())
}
