//! The committed spec must be exactly what the code generates.

#[test]
fn committed_openapi_matches_generated() {
    let generated = mlguard_api::openapi()
        .to_pretty_json()
        .expect("spec serializes");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/mlguard.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/mlguard.json is stale; regenerate it with \
         `cargo run -q -p mlguard-server -- openapi > openapi/mlguard.json`"
    );
}

#[test]
fn every_operation_has_an_id_tag_security_and_error_schema() {
    let spec = serde_json::to_value(mlguard_api::openapi()).expect("spec as JSON");
    let paths = spec["paths"].as_object().expect("paths");
    assert!(paths.len() >= 16, "only {} paths", paths.len());
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let where_ = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{where_}: no operationId");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{where_}: no tag"
            );
            if path.starts_with("/api/") {
                assert!(op["security"].is_array(), "{where_}: no security");
                let responses = op["responses"].as_object().expect("responses");
                for code in ["401", "403"] {
                    let schema = &responses[code]["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema.as_str(),
                        Some("#/components/schemas/ErrorBody"),
                        "{where_}: {code} lacks the error schema"
                    );
                }
            }
        }
    }
    assert!(spec["components"]["securitySchemes"]["basic"].is_object());
}
