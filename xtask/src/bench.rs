//! `cargo xtask bench`: figures for the release build.

use crate::build;
use crate::cmd::Result;
use std::io::Write;
use std::path::Path;

pub fn run() -> Result {
    let dist = build::build_pwa()?;
    bundle_report(&dist)
}

/// Sizes of what a first visit downloads: raw, gzip and brotli.
fn bundle_report(dist: &Path) -> Result {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dist).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "wasm" | "js" | "css" | "html") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        rows.push((
            ext.to_owned(),
            name,
            bytes.len(),
            gzip_len(&bytes),
            brotli_len(&bytes),
        ));
    }
    rows.sort();
    println!("\nRelease bundle ({}):", dist.display());
    println!(
        "{:<6} {:<44} {:>10} {:>10} {:>10}",
        "kind", "file", "raw", "gzip", "brotli"
    );
    let (mut raw, mut gz, mut br) = (0, 0, 0);
    for (kind, name, r, g, b) in &rows {
        println!("{kind:<6} {name:<44} {r:>10} {g:>10} {b:>10}");
        raw += r;
        gz += g;
        br += b;
    }
    println!(
        "{:<6} {:<44} {raw:>10} {gz:>10} {br:>10}",
        "total", "first-load transfer (bytes)"
    );
    Ok(())
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("in-memory write");
    enc.finish().expect("in-memory write").len()
}

fn brotli_len(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("in-memory write");
    out.len()
}
