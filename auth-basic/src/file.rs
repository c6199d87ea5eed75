//! The users.yml file store (after RESTHeart's simple file authenticator).
//!
//! ```yaml
//! users:
//!   - userid: admin
//!     password: "$argon2id$v=19$m=19456,t=2,p=1$…"   # argon2 PHC or bcrypt
//!     roles: [admin]
//!     digest:                  # optional: Digest HA1 per realm (the CLI writes it)
//!       api:
//!         SHA-256: "…"
//!         MD5: "…"
//! ```
//!
//! A password that is not a hash (does not start with `$`) is plaintext. It is
//! refused unless [`FileStoreOptions::allow_plaintext`] is set, and even then
//! a warning is logged at start-up and the password is hashed in memory, so
//! it is verified like every other (same cost, constant time).
//!
//! The store is read at start-up (and by [`FileUserStore::reload`]); it is
//! read-only at run time: change users with the CLI, then reload.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::store::{StoreError, UserRecord, UserStore};
use auth_password::{HashParams, hash_password};

/// One user as written in users.yml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileUser {
    /// The login name (RESTHeart's `userid`).
    pub userid: String,
    /// A stable id; defaults to `userid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A password hash (or, with the opt-in, a plaintext password).
    pub password: String,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Digest HA1 values: realm → algorithm (`SHA-256`, `MD5`) → hex.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, BTreeMap<String, String>>,
}

impl FileUser {
    /// A user with a password hash and roles.
    pub fn new(
        userid: impl Into<String>,
        password_hash: impl Into<String>,
        roles: Vec<String>,
    ) -> Self {
        FileUser {
            userid: userid.into(),
            id: None,
            password: password_hash.into(),
            roles,
            digest: BTreeMap::new(),
        }
    }
}

/// The whole users.yml document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersFile {
    /// The users.
    #[serde(default)]
    pub users: Vec<FileUser>,
}

impl UsersFile {
    /// Parses users.yml text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        yaml_serde::from_str(text).map_err(|e| StoreError::Invalid(format!("users file: {e}")))
    }

    /// Reads a file; a missing file is an empty document.
    pub fn read(path: &Path) -> Result<Self, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UsersFile::default()),
            Err(e) => Err(StoreError::Backend(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the file atomically (a temporary file in the same directory,
    /// then a rename), readable by the owner only on Unix.
    pub fn write(&self, path: &Path) -> Result<(), StoreError> {
        let text = yaml_serde::to_string(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let io = |e: std::io::Error| StoreError::Backend(format!("{}: {e}", path.display()));
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp_name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            // Hashes and HA1 values are secrets: owner only, from creation on.
            options.mode(0o600);
        }
        let written = (|| {
            let mut f = options.open(&tmp)?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(io)
    }

    /// The user named `userid`.
    pub fn get_mut(&mut self, userid: &str) -> Option<&mut FileUser> {
        self.users.iter_mut().find(|u| u.userid == userid)
    }
}

/// Options for [`FileUserStore`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStoreOptions {
    /// Accept plaintext passwords (logged as a warning at load). Default off.
    pub allow_plaintext: bool,
    /// Parameters used to hash plaintext passwords in memory.
    pub params: HashParams,
}

#[derive(Debug, Default)]
struct Loaded {
    users: HashMap<String, UserRecord>,
    digest: HashMap<(String, String, String), String>,
    /// (realm, ALGORITHM, userhash) → username, for every user with an HA1
    /// for that realm and algorithm (only they can log in with Digest).
    userhash: HashMap<(String, String, String), String>,
}

/// Users from a users.yml file, held in memory.
#[derive(Debug)]
pub struct FileUserStore {
    path: PathBuf,
    options: FileStoreOptions,
    loaded: RwLock<Loaded>,
}

fn is_hash(password: &str) -> bool {
    password.starts_with('$')
}

impl FileUserStore {
    /// Loads the file (blocking; call at start-up). Plaintext passwords are an
    /// error unless allowed.
    pub fn load(path: impl Into<PathBuf>, options: FileStoreOptions) -> Result<Self, StoreError> {
        let path = path.into();
        let loaded = Self::read(&path, &options)?;
        Ok(FileUserStore {
            path,
            options,
            loaded: RwLock::new(loaded),
        })
    }

    /// Reads the file again (e.g. after the CLI changed it). On error the
    /// previous users stay in place.
    pub fn reload(&self) -> Result<(), StoreError> {
        let loaded = Self::read(&self.path, &self.options)?;
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(())
    }

    /// How many users are loaded.
    pub fn len(&self) -> usize {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .len()
    }

    /// Whether no user is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(path: &Path, options: &FileStoreOptions) -> Result<Loaded, StoreError> {
        if !path.exists() {
            return Err(StoreError::Backend(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let file = UsersFile::read(path)?;
        let mut loaded = Loaded::default();
        let mut plaintext = 0usize;
        for user in file.users {
            let password_hash = if is_hash(&user.password) {
                user.password
            } else if options.allow_plaintext {
                plaintext += 1;
                hash_password(&options.params, &user.password)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
            } else {
                return Err(StoreError::Invalid(format!(
                    "user '{}' in {} has a plaintext password; hash it with `password hash` \
                     or allow plaintext passwords explicitly",
                    user.userid,
                    path.display()
                )));
            };
            for (realm, by_alg) in &user.digest {
                for (alg, ha1) in by_alg {
                    if let Some(parsed) = crate::digest::DigestAlgorithm::parse(alg) {
                        loaded.userhash.insert(
                            (
                                realm.clone(),
                                parsed.as_str().to_owned(),
                                crate::digest::userhash(parsed, &user.userid, realm),
                            ),
                            user.userid.clone(),
                        );
                    }
                    loaded.digest.insert(
                        (user.userid.clone(), realm.clone(), alg.to_ascii_uppercase()),
                        ha1.to_ascii_lowercase(),
                    );
                }
            }
            let record = crate::store::NewUser::new(user.userid.clone(), password_hash)
                .with_roles(user.roles);
            let record = match user.id {
                Some(id) => record.with_id(id),
                None => record,
            }
            .into_record()?;
            if loaded
                .users
                .insert(record.username.clone(), record)
                .is_some()
            {
                return Err(StoreError::Duplicate(user.userid));
            }
        }
        if plaintext > 0 {
            tracing::warn!(
                file = %path.display(),
                count = plaintext,
                "users file holds plaintext passwords (allowed by configuration); hash them with `password hash`"
            );
        }
        Ok(loaded)
    }
}

#[auth_core::async_trait]
impl UserStore for FileUserStore {
    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .get(username)
            .cloned())
    }

    async fn digest_ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .digest
            .get(&(
                username.to_owned(),
                realm.to_owned(),
                algorithm.to_ascii_uppercase(),
            ))
            .cloned())
    }

    /// Looked up in a map computed at load from the users' HA1 entries.
    async fn username_by_userhash(
        &self,
        userhash: &str,
        realm: &str,
        algorithm: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .userhash
            .get(&(
                realm.to_owned(),
                algorithm.to_ascii_uppercase(),
                userhash.to_ascii_lowercase(),
            ))
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_password::verify_password;

    const FILE: &str = r#"
users:
  - userid: admin
    password: "$2b$04$UOLbnnp8M7k4XdEwKBPVlOTKLwuGlAfHmz2uu/cN3o9RtjM7ezJVq"
    roles: [admin, user]
  - userid: plain
    id: p-1
    password: secret
    digest:
      api:
        sha-256: ABCDEF
"#;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn plaintext_is_refused_without_opt_in() {
        let (_d, path) = write(FILE);
        let err = FileUserStore::load(&path, FileStoreOptions::default()).unwrap_err();
        assert!(err.to_string().contains("plaintext"), "{err}");
        assert!(!err.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn plaintext_with_opt_in_is_hashed_in_memory() {
        let (_d, path) = write(FILE);
        let options = FileStoreOptions {
            allow_plaintext: true,
            params: HashParams::insecure_for_tests(),
        };
        let store = FileUserStore::load(&path, options.clone()).unwrap();
        assert_eq!(store.len(), 2);
        let plain = store.find_user("plain").await.unwrap().unwrap();
        assert_eq!(plain.id, "p-1");
        assert!(plain.password_hash.starts_with("$argon2id$"));
        assert!(
            verify_password(&options.params, "secret", &plain.password_hash)
                .unwrap()
                .is_match()
        );
        let admin = store.find_user("admin").await.unwrap().unwrap();
        assert_eq!(admin.roles, vec!["admin", "user"]);
        assert_eq!(
            store
                .digest_ha1("plain", "api", "SHA-256")
                .await
                .unwrap()
                .as_deref(),
            Some("abcdef")
        );
    }

    #[test]
    fn duplicates_and_missing_files_are_errors() {
        let (_d, path) =
            write("users:\n  - {userid: a, password: $x}\n  - {userid: a, password: $y}\n");
        assert_eq!(
            FileUserStore::load(&path, FileStoreOptions::default()).unwrap_err(),
            StoreError::Duplicate("a".into())
        );
        assert!(
            FileUserStore::load("/nonexistent/users.yml", FileStoreOptions::default()).is_err()
        );
    }

    #[test]
    fn write_then_read_roundtrips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yml");
        let mut file = UsersFile::default();
        file.users
            .push(FileUser::new("ada", "$argon2id$abc", vec!["admin".into()]));
        file.write(&path).unwrap();
        assert_eq!(UsersFile::read(&path).unwrap(), file);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
