//! The dashboard's built files, `dashboard/dist/` (Vite's output, committed
//! by the dashboard's build), embedded in the binary: `tasknet up` and
//! `tasknet serve reporting` serve them with nothing but the binary.

use tasknet_server::StaticAssets;

#[derive(rust_embed::Embed)]
#[folder = "../../dashboard/dist/"]
struct Dist;

/// The embedded files, for `ServeOptions::web.assets`.
pub fn dashboard() -> StaticAssets {
    StaticAssets::new(|path| Dist::get(path).map(|file| file.data))
}

/// Whether the bundle has its page (a build without it serves a 404).
pub fn has_page() -> bool {
    Dist::get("index.html").is_some()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_embedded() {
        assert!(super::has_page());
    }
}
