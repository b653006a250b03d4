//! Which database the integration tests (tests/it) are built for: `DOCFLOW_TEST_DB=sqlite`
//! sets the cfg `docflow_test_sqlite`, so a test that needs PostgreSQL is compiled as
//! ignored, with its reason, instead of passing without testing anything. Nothing in the
//! binary reads it.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(docflow_test_sqlite)");
    println!("cargo::rerun-if-env-changed=DOCFLOW_TEST_DB");
    if std::env::var("DOCFLOW_TEST_DB").is_ok_and(|db| db == "sqlite") {
        println!("cargo::rustc-cfg=docflow_test_sqlite");
    }
}
