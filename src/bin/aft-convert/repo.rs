//! Reading a request repository: every `.tf` file below the directory, parsed with hcl-edit,
//! and which directory is the root module AFT's pipeline applies.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use hcl_edit::structure::Body;

/// One parsed `.tf` file.
pub struct SourceFile {
    /// The path relative to the directory given on the command line.
    pub rel: PathBuf,
    /// The path as the user wrote it plus `rel`, for reports.
    pub shown: String,
    /// The parsed body; spans are byte offsets into the file's text.
    pub body: Body,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// The directory (relative) that holds the file: the Terraform module it belongs to.
    pub fn dir(&self) -> PathBuf {
        self.rel.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// `path:line` of a byte span (line 1 when the parser gave none).
    pub fn at(&self, span: Option<Range<usize>>) -> String {
        let line = span.map_or(1, |s| self.line_starts.partition_point(|&start| start <= s.start));
        format!("{}:{line}", self.shown)
    }
}

/// The request repository.
pub struct Repo {
    /// Every `.tf` file, sorted by path.
    pub files: Vec<SourceFile>,
    /// The root module (relative): the directory itself, or its `terraform/` directory when the
    /// directory holds no `.tf` file of its own (AFT's layout: its `ct-aft-account-request`
    /// pipeline runs Terraform in `terraform/`).
    pub root: PathBuf,
    /// `.tf.json` files, which the converter does not read.
    pub json: Vec<String>,
}

/// Reads and parses every `.tf` file below `dir`, skipping hidden directories (`.terraform`,
/// `.git`). A file that does not parse is an error: Terraform would refuse it too.
pub fn read(dir: &Path) -> Result<Repo, String> {
    let mut paths = Vec::new();
    walk(dir, Path::new(""), &mut paths)?;
    paths.sort();
    let shown = |rel: &Path| dir.join(rel).display().to_string();
    let mut files = Vec::new();
    let mut json = Vec::new();
    for rel in paths {
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".tf.json") {
            json.push(shown(&rel));
            continue;
        }
        let text = std::fs::read_to_string(dir.join(&rel)).map_err(|e| format!("{}: {e}", shown(&rel)))?;
        let body: Body = text.parse().map_err(|e: hcl_edit::parser::Error| {
            format!("{}:{}: not valid HCL: {}", shown(&rel), e.location().line(), e.message())
        })?;
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        files.push(SourceFile { shown: shown(&rel), rel, body, line_starts });
    }
    let has_own = files.iter().any(|f| f.dir().as_os_str().is_empty());
    let root = if !has_own && files.iter().any(|f| f.rel.starts_with("terraform")) {
        PathBuf::from("terraform")
    } else {
        PathBuf::new()
    };
    Ok(Repo { files, root, json })
}

fn walk(base: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let here = base.join(rel);
    let entries = std::fs::read_dir(&here).map_err(|e| format!("{}: {e}", here.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", here.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = rel.join(name);
        let kind = entry.file_type().map_err(|e| format!("{}: {e}", base.join(&path).display()))?;
        if kind.is_dir() {
            if !name.starts_with('.') {
                walk(base, &path, out)?;
            }
        } else if name.ends_with(".tf") || name.ends_with(".tf.json") {
            out.push(path);
        }
    }
    Ok(())
}

/// `dir` joined with a local module source (`./x`, `../y`), without `.` and `..`; `None` when
/// it leaves the repository.
pub fn resolve(dir: &Path, source: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in dir.join(source).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}
