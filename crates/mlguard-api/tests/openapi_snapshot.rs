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
                // 429 (login throttling) and 503 (store down) come from shared layers
                // and must still be listed, or generated clients choke on them.
                for code in ["401", "403", "429", "503"] {
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

/// Every request field with the given name (a property of a request body's schema,
/// or a query parameter), with the operation it belongs to.
fn request_fields_named<'a>(
    spec: &'a serde_json::Value,
    name: &str,
) -> Vec<(String, &'a serde_json::Value)> {
    let schemas = &spec["components"]["schemas"];
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let where_ = format!("{method} {path}");
            for param in op["parameters"].as_array().into_iter().flatten() {
                if param["name"] == name {
                    found.push((where_.clone(), &param["schema"]));
                }
            }
            let body = &op["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            if let Some(schema_name) = body
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                && let Some(field) = schemas[schema_name]["properties"].get(name)
            {
                found.push((format!("{where_} body"), field));
            }
        }
    }
    found
}

#[test]
fn request_fields_document_the_limits_the_server_enforces() {
    use mlguard_domain::{Password, Username};
    let spec = serde_json::to_value(mlguard_api::openapi()).expect("spec as JSON");

    let usernames = request_fields_named(&spec, "username");
    assert!(
        usernames.len() >= 20,
        "only {} username fields",
        usernames.len()
    );
    for (where_, field) in usernames {
        assert_eq!(field["minLength"], 1, "{where_}: username minLength");
        assert_eq!(
            field["maxLength"],
            Username::MAX_CHARS,
            "{where_}: username maxLength"
        );
    }
    let passwords = request_fields_named(&spec, "password");
    assert_eq!(passwords.len(), 2, "{passwords:?}");
    for (where_, field) in passwords {
        assert_eq!(
            field["minLength"],
            Password::MIN_CHARS,
            "{where_}: password minLength"
        );
    }
}
