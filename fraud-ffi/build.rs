//! Gives the shared library its SONAME, `libfraud_engine.so.MAJOR`, so that
//! programs linked against an installed `libfraud_engine.so` record the ABI
//! major version and keep loading across compatible updates
//! (`scripts/install-c.sh` lays out the versioned file and its links).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd"
    ) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfraud_engine.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
