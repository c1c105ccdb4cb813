//! One seed's world: temp folders, the config, the record in the shared sandbox, and the
//! "user" who edits both sides. The model remembers what the user created and deleted so
//! the invariants can tell a loss or a duplicate from something the user asked for.

use bigin_sync::config::{self, Config};
use bigin_sync::model::{ContentHash, Product, RecordKey};
use bigin_sync::sandbox::{Faults, Sandbox};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub const MODULE: &str = "Contacts";
pub const PRODUCT: Product = Product::Bigin;

/// Local and remote names come from one small pool so that both sides collide often.
const NAMES: &[&str] = &["a.txt", "b.pdf", "c.docx", "d.txt", "e.csv", "f.bin"];

/// What the user did, so that a failure can be judged against intent.
#[derive(Debug, Default)]
pub struct Model {
    /// Contents the user created and never deleted nor overwrote (on either side).
    pub live: HashSet<ContentHash>,
    /// Attachments the user added remotely, by (File_Name, content): a duplicate the
    /// user made on purpose is not the daemon's fault.
    pub remote_adds: HashMap<(String, ContentHash), usize>,
    /// Files the user wrote locally, by (name, content). A local file synced before the
    /// user attaches the same bytes under the same name in Bigin is a second copy on
    /// purpose (only *new on both sides* is adopted as one; the e2e tests cover that).
    pub local_writes: HashMap<(String, ContentHash), usize>,
    /// Short label per content, for failure messages.
    pub labels: HashMap<ContentHash, String>,
    counter: u64,
}

/// One seed's state.
pub struct World<'s> {
    pub seed: u64,
    pub rng: StdRng,
    pub sandbox: &'s Sandbox,
    /// Holds the temp folders alive for the seed.
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub state: PathBuf,
    pub dir: PathBuf,
    pub key: RecordKey,
    pub cfg: Config,
    pub model: Model,
    /// Every step taken, printed when the seed fails.
    pub log: Vec<String>,
    /// Let different contents share a size (and so a name and size), which provokes the
    /// intent-recovery mix-up reported in the module docs of `tests/simulation.rs`.
    pub colliding_sizes: bool,
    /// Local files synced by the prior sync: an edit of one of them plus the same bytes
    /// attached in Bigin is two copies the user made (an edit uploads, it adopts nothing).
    pub prior_names: HashSet<String>,
}

impl<'s> World<'s> {
    pub fn new(seed: u64, sandbox: &'s Sandbox, colliding_sizes: bool) -> World<'s> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let state = tmp.path().join("state");
        // A distinct record per seed: the sandbox is shared by all seeds.
        let record_id = format!("{}", 7_000_000_000_000_000u64 + seed);
        let dir = root.join(MODULE).join(&record_id);
        std::fs::create_dir_all(&dir).expect("record dir");
        sandbox.add_record(PRODUCT, MODULE, &record_id);
        let text = sandbox.config_toml(&root, &state, "", "debounce = \"100ms\"");
        let path = tmp.path().join("config.toml");
        let cfg = config::load_str(&path, &text, &|_| None).expect("config");
        World {
            seed,
            rng: StdRng::seed_from_u64(seed),
            sandbox,
            _tmp: tmp,
            root,
            state,
            dir,
            key: RecordKey {
                module: MODULE.to_string(),
                record_id,
            },
            cfg,
            model: Model::default(),
            log: Vec::new(),
            colliding_sizes,
            prior_names: HashSet::new(),
        }
    }

    pub fn note(&mut self, line: String) {
        self.log.push(line);
    }

    /// Fresh, unique content. With `colliding_sizes` sizes repeat on purpose (equal size
    /// is never proof); without it every content has a size of its own.
    fn content(&mut self) -> (Vec<u8>, ContentHash) {
        self.model.counter += 1;
        let mut bytes = format!("seed {} v{}\n", self.seed, self.model.counter).into_bytes();
        let len = if self.colliding_sizes {
            match self.rng.random_range(0..3) {
                0 => 64,
                1 => self.rng.random_range(32..200),
                _ => self.rng.random_range(200..6000),
            }
        } else {
            100 * self.model.counter as usize + self.rng.random_range(30..100)
        };
        while bytes.len() < len {
            bytes.push(b'a' + self.rng.random_range(0..26u8));
        }
        let hash = ContentHash::of_bytes(&bytes);
        self.model
            .labels
            .insert(hash, format!("v{}({}B)", self.model.counter, bytes.len()));
        (bytes, hash)
    }

    fn label(&self, h: &ContentHash) -> String {
        self.model
            .labels
            .get(h)
            .cloned()
            .unwrap_or_else(|| h.to_hex()[..8].to_string())
    }

    pub fn pick_name(&mut self) -> String {
        NAMES[self.rng.random_range(0..NAMES.len())].to_string()
    }

    /// The user's visible files in the record folder (dot-files are not theirs).
    pub fn local_names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Writes (creates or overwrites) a local file with a past mtime so it counts as
    /// stable at once; overwriting is the user discarding the old content.
    pub fn local_write(&mut self, name: &str, bytes: &[u8], hash: ContentHash) {
        let path = self.dir.join(name);
        if let Ok(old) = std::fs::read(&path) {
            self.model.live.remove(&ContentHash::of_bytes(&old));
        }
        if self.rng.random_bool(0.5) {
            std::fs::write(&path, bytes).expect("write local file");
        } else {
            let tmp = self.dir.join(format!(".{name}.sim-tmp"));
            std::fs::write(&tmp, bytes).expect("write temp file");
            std::fs::rename(&tmp, &path).expect("rename into place");
        }
        set_past_mtime(&path);
        self.model.live.insert(hash);
        *self
            .model
            .local_writes
            .entry((name.to_string(), hash))
            .or_default() += 1;
        let l = self.label(&hash);
        self.note(format!("local write {name} = {l}"));
    }

    pub fn local_create_or_modify(&mut self) {
        let name = self.pick_name();
        let (bytes, hash) = self.content();
        self.local_write(&name, &bytes, hash);
    }

    pub fn local_delete(&mut self) {
        let names = self.local_names();
        if names.is_empty() {
            return;
        }
        let name = names[self.rng.random_range(0..names.len())].clone();
        let path = self.dir.join(&name);
        if let Ok(old) = std::fs::read(&path) {
            self.model.live.remove(&ContentHash::of_bytes(&old));
        }
        std::fs::remove_file(&path).expect("delete local file");
        self.note(format!("local delete {name}"));
    }

    pub fn remote_add(&mut self, name: &str, bytes: Vec<u8>, hash: ContentHash) {
        let id = self
            .sandbox
            .add_file(PRODUCT, MODULE, &self.key.record_id, name, bytes);
        self.model.live.insert(hash);
        *self
            .model
            .remote_adds
            .entry((name.to_string(), hash))
            .or_default() += 1;
        let l = self.label(&hash);
        self.note(format!("remote add {name} = {l} as {id}"));
    }

    /// Adds an attachment: usually new content, sometimes the content of a local file
    /// under another name (two files that happen to be equal).
    pub fn remote_add_random(&mut self) {
        let name = self.pick_name();
        let locals = self.local_names();
        if !locals.is_empty() && self.rng.random_bool(0.15) {
            let other = locals[self.rng.random_range(0..locals.len())].clone();
            if other != name
                && let Ok(bytes) = std::fs::read(self.dir.join(&other))
            {
                let hash = ContentHash::of_bytes(&bytes);
                self.remote_add(&name, bytes, hash);
                return;
            }
        }
        let (bytes, hash) = self.content();
        self.remote_add(&name, bytes, hash);
    }

    pub fn remote_delete(&mut self) {
        let atts = self
            .sandbox
            .attachments(PRODUCT, MODULE, &self.key.record_id);
        if atts.is_empty() {
            return;
        }
        let a = &atts[self.rng.random_range(0..atts.len())];
        if let Some(h) = a.content_hash {
            self.model.live.remove(&h);
        }
        let ok = self
            .sandbox
            .delete_attachment(PRODUCT, MODULE, &self.key.record_id, &a.id);
        assert!(ok, "sandbox refused to delete {}", a.id);
        self.note(format!("remote delete {} ({})", a.file_name, a.id));
    }

    /// The starting trees: a few files on each side, some sharing a name (with equal or
    /// different content).
    pub fn initial_trees(&mut self) {
        let n_local = self.rng.random_range(0..=3);
        for _ in 0..n_local {
            self.local_create_or_modify();
        }
        let n_remote = self.rng.random_range(0..=3);
        for _ in 0..n_remote {
            let locals = self.local_names();
            if !locals.is_empty() && self.rng.random_bool(0.4) {
                // Same name on both sides: equal content (adopted as one) or different
                // content (a conflict: both kept), of the same size when sizes may
                // collide (equal size is no proof).
                let name = locals[self.rng.random_range(0..locals.len())].clone();
                let local = std::fs::read(self.dir.join(&name)).expect("read local");
                if self.rng.random_bool(0.5) {
                    let hash = ContentHash::of_bytes(&local);
                    if self.prior_names.contains(&name) {
                        *self
                            .model
                            .remote_adds
                            .entry((name.clone(), hash))
                            .or_default() += 1;
                    }
                    self.remote_add(&name, local, hash);
                } else if self.colliding_sizes {
                    let (mut bytes, _) = self.content();
                    bytes.resize(local.len().max(24), b'z');
                    let hash = ContentHash::of_bytes(&bytes);
                    if hash == ContentHash::of_bytes(&local) {
                        continue;
                    }
                    let l = format!("v{}-same-size({}B)", self.model.counter, bytes.len());
                    self.model.labels.insert(hash, l);
                    self.remote_add(&name, bytes, hash);
                } else {
                    let (bytes, hash) = self.content();
                    self.remote_add(&name, bytes, hash);
                }
            } else {
                self.remote_add_random();
            }
        }
    }

    /// A few random user operations on either side.
    pub fn user_round(&mut self) {
        let n = self.rng.random_range(0..=3);
        for _ in 0..n {
            match self.rng.random_range(0..10) {
                0..=2 => self.local_create_or_modify(),
                3..=4 => self.local_delete(),
                5..=7 => self.remote_add_random(),
                _ => self.remote_delete(),
            }
        }
    }

    /// Faults for this seed: sometimes none, otherwise each kind at a rate up to 0.2.
    pub fn random_faults(&mut self) -> Faults {
        if self.rng.random_bool(0.2) {
            return Faults::default();
        }
        let rate = |rng: &mut StdRng| {
            if rng.random_bool(0.3) {
                0.0
            } else {
                rng.random_range(0.0..0.2)
            }
        };
        let f = Faults {
            seed: self.seed,
            error_500_rate: rate(&mut self.rng),
            error_429_rate: rate(&mut self.rng),
            retry_after_secs: None,
            drop_before_rate: rate(&mut self.rng),
            drop_after_upload_rate: rate(&mut self.rng),
            truncate_download_rate: rate(&mut self.rng),
            latency: Duration::ZERO,
            routes: Vec::new(),
            ..Faults::default()
        };
        self.note(format!(
            "faults 500={:.2} 429={:.2} drop_before={:.2} drop_after_upload={:.2} truncate={:.2}",
            f.error_500_rate,
            f.error_429_rate,
            f.drop_before_rate,
            f.drop_after_upload_rate,
            f.truncate_download_rate
        ));
        f
    }

    pub fn trash_dir(&self) -> PathBuf {
        self.state.join("trash")
    }
}

/// Back-dates a file so the scanner's debounce sees it as settled without waiting.
pub fn set_past_mtime(path: &Path) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open for mtime");
    f.set_modified(SystemTime::now() - Duration::from_secs(10))
        .expect("set mtime");
}
