//! Sizes on disk: a binary and its deployment zip, and whether an artifact is older than the sources.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::model::FileSizes;

/// The modification time of `p`; the epoch when it cannot be read.
pub fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The newest modification time of the files under `paths`.
pub fn newest_mtime(paths: &[PathBuf]) -> SystemTime {
    fn walk(p: &Path, newest: &mut SystemTime) {
        *newest = (*newest).max(mtime(p));
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                walk(&e.path(), newest);
            }
        }
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    for p in paths {
        walk(p, &mut newest);
    }
    newest
}

/// Size of a binary and of its deployment zip (Python's zipfile, deflate, as SAM packages it).
pub fn file_sizes(path: &Path) -> Result<FileSizes, String> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let zip = std::env::temp_dir().join(format!("wxauth-bench-{}.zip", std::process::id()));
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os,sys,zipfile\n\
             z=zipfile.ZipFile(sys.argv[2],'w',zipfile.ZIP_DEFLATED)\n\
             z.write(sys.argv[1],'bootstrap')\n\
             z.close()\n\
             print(os.path.getsize(sys.argv[2]))",
        ])
        .arg(path)
        .arg(&zip)
        .output()
        .map_err(|e| format!("python3 (zip): {e}"))?;
    let _ = std::fs::remove_file(&zip);
    let zip_bytes = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            format!(
                "zip of {} failed: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    Ok(FileSizes {
        path: path.display().to_string(),
        bytes,
        zip_bytes,
    })
}
