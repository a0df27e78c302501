//! The one way pp walks a workspace: every entry, hidden files included, no ignore files
//! honoured, links not followed. The copy sandbox and the workspace manifest both walk so, and
//! must agree on what a workspace holds; neither owns the other, so the walk lives here, below
//! both.

use std::path::Path;

/// Every entry under `root`, hidden files included, no ignore files honoured, links not
/// followed; `keep` sees each path relative to `root` and prunes what it rejects. The copy
/// backend and the workspace manifest walk the same way.
pub fn walk_workspace(
    root: &Path,
    keep: impl Fn(&Path) -> bool + Send + Sync + 'static,
) -> ignore::Walk {
    let base = root.to_owned();
    ignore::WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .parents(false)
        .follow_links(false)
        .filter_entry(move |e| keep(e.path().strip_prefix(&base).unwrap_or(e.path())))
        .build()
}
