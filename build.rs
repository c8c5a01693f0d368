//! Compiles the protobuf definitions under `proto/` into Rust with tonic-prost-build, using the
//! vendored `protoc` so a fresh machine needs no system protobuf compiler. The bench-only echo
//! service (`kinerja.bench.v1`) is compiled only with the `bench` feature, into its own module
//! and descriptor set, so the service's API and reflection never contain it.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let include = protoc_bin_vendored::include_path()?;
    let include = include.to_str().ok_or("non UTF-8 include path")?.to_owned();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let files = [
        "proto/kinerja/v1/common.proto",
        "proto/kinerja/v1/organization.proto",
        "proto/kinerja/v1/employee.proto",
        "proto/kinerja/v1/assignment.proto",
        "proto/kinerja/v1/audit.proto",
        "proto/kinerja/v1/event.proto",
        "proto/kinerja/v1/period.proto",
        "proto/kinerja/v1/skp.proto",
        "proto/kinerja/v1/assessment.proto",
        "proto/kinerja/v1/calibration.proto",
        "proto/kinerja/v1/export.proto",
        "proto/kinerja/v1/followup.proto",
        "proto/kinerja/v1/report.proto",
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("kinerja_descriptor.bin"))
        .compile_protos(&files, &["proto", include.as_str()])?;
    if std::env::var_os("CARGO_FEATURE_BENCH").is_some() {
        tonic_prost_build::configure()
            .file_descriptor_set_path(out_dir.join("kinerja_bench_descriptor.bin"))
            .compile_protos(
                &["proto/kinerja/bench/v1/echo.proto"],
                &["proto", include.as_str()],
            )?;
    }
    Ok(())
}
