//! The directory the file tools are confined to, when the server has one
//! ([`McpOptions::root`](crate::McpOptions::root)), as the MCP filesystem server has
//! roots: `upload_file` reads, `download_result` writes and `run_batch` keeps its journal
//! only under it. A relative path is taken from it; an absolute one, or one that leads out
//! of it through `..` or a symbolic link, is refused before anything is opened.

use std::path::{Component, Path, PathBuf};

/// A canonical directory that paths must stay under.
#[derive(Debug, Clone)]
pub(crate) struct Root {
    dir: PathBuf,
}

impl Root {
    /// The root `dir`, resolved (it must exist and be a directory).
    pub(crate) fn new(dir: &Path) -> Result<Root, String> {
        let canonical = std::fs::canonicalize(dir)
            .map_err(|e| format!("the root directory {} cannot be used: {e}", dir.display()))?;
        if !canonical.is_dir() {
            return Err(format!("the root {} is not a directory", dir.display()));
        }
        Ok(Root { dir: canonical })
    }

    /// The directory, resolved.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path to use for `given` (relative to the root, or absolute under it): its
    /// directory resolved, and the path itself when it exists (a symbolic link followed).
    /// Refused when it is outside the root, names no file, or is a link that leads
    /// nowhere (creating through it would write where it points).
    pub(crate) fn confine(&self, given: &str) -> Result<PathBuf, String> {
        let outside = || {
            format!(
                "{given} is outside the directory this server may use ({}): name a path under it, or relative to it",
                self.dir.display()
            )
        };
        let path = Path::new(given);
        let joined = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.dir.join(path)
        };
        let Some(Component::Normal(name)) = joined.components().next_back() else {
            return Err(format!("{given} names no file"));
        };
        let parent = joined.parent().ok_or_else(outside)?;
        let parent = std::fs::canonicalize(parent)
            .map_err(|e| format!("the directory of {given} cannot be used: {e}"))?;
        if !parent.starts_with(&self.dir) {
            return Err(outside());
        }
        let candidate = parent.join(name);
        match std::fs::symlink_metadata(&candidate) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = std::fs::canonicalize(&candidate).map_err(|_| {
                    format!("{given} is a symbolic link that leads nowhere: it is not followed")
                })?;
                if !target.starts_with(&self.dir) {
                    return Err(outside());
                }
                Ok(target)
            }
            _ => Ok(candidate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_root_are_kept_and_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), b"a").unwrap();
        let root = Root::new(dir.path()).unwrap();
        let base = root.dir().to_path_buf();
        assert_eq!(root.confine("sub/a.txt").unwrap(), base.join("sub/a.txt"));
        assert_eq!(root.confine("new.bin").unwrap(), base.join("new.bin"));
        let absolute = base.join("sub/b.txt");
        assert_eq!(root.confine(absolute.to_str().unwrap()).unwrap(), absolute);
        // Out by `..`, by an absolute path, by a link; no file at all.
        for given in [
            "../x".to_owned(),
            "sub/../../x".to_owned(),
            outside.path().join("x").display().to_string(),
            "/etc/passwd".to_owned(),
        ] {
            let error = root.confine(&given).unwrap_err();
            assert!(error.contains("outside the directory"), "{given}: {error}");
        }
        assert!(
            root.confine("sub/..")
                .unwrap_err()
                .contains("names no file")
        );
        #[cfg(unix)]
        {
            let link = dir.path().join("sub/out");
            std::os::unix::fs::symlink(outside.path(), &link).unwrap();
            let error = root.confine("sub/out/x").unwrap_err();
            assert!(error.contains("outside the directory"), "{error}");
            let file_link = dir.path().join("leak");
            std::os::unix::fs::symlink(outside.path().join("secret"), &file_link).unwrap();
            let error = root.confine("leak").unwrap_err();
            assert!(error.contains("leads nowhere"), "{error}");
            std::fs::write(outside.path().join("secret"), b"s").unwrap();
            let error = root.confine("leak").unwrap_err();
            assert!(error.contains("outside the directory"), "{error}");
            let inside = dir.path().join("inside");
            std::os::unix::fs::symlink(base.join("sub/a.txt"), &inside).unwrap();
            assert_eq!(root.confine("inside").unwrap(), base.join("sub/a.txt"));
        }
    }

    #[test]
    fn a_root_must_be_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(Root::new(&file).unwrap_err().contains("not a directory"));
        assert!(Root::new(&dir.path().join("missing")).is_err());
    }
}
