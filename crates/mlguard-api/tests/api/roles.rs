//! MLflow 3.17's role and per-user permission API, in process.

use super::*;

const ROLES: &str = "/api/3.0/mlflow/roles";
const USERS: &str = "/api/3.0/mlflow/users";

impl TestApp {
    async fn ok(&self, who: (&str, &str), method: Method, uri: &str, body: Option<Value>) -> Value {
        let reply = self.call(Some(who), method.clone(), uri, body).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{method} {uri}: {}",
            reply.raw
        );
        reply.body
    }

    async fn user_id(&self, name: &str) -> i64 {
        let body = self
            .ok(
                ADMIN,
                Method::GET,
                &format!("/api/2.0/mlflow/users/get?username={name}"),
                None,
            )
            .await;
        body["user"]["id"].as_i64().expect("id")
    }

    async fn create_role(&self, who: (&str, &str), name: &str) -> i64 {
        let body = self
            .ok(
                who,
                Method::POST,
                &format!("{ROLES}/create"),
                Some(json!({"workspace": "default", "name": name})),
            )
            .await;
        body["role"]["id"].as_i64().expect("role id")
    }

    async fn add_row(&self, role_id: i64, resource_type: &str, pattern: &str, level: &str) -> i64 {
        let body = self
            .ok(
                ADMIN,
                Method::POST,
                &format!("{ROLES}/permissions/add"),
                Some(json!({"role_id": role_id, "resource_type": resource_type,
                    "resource_pattern": pattern, "permission": level})),
            )
            .await;
        body["role_permission"]["id"].as_i64().expect("row id")
    }

    async fn assign(&self, username: &str, role_id: i64) {
        self.ok(
            ADMIN,
            Method::POST,
            &format!("{ROLES}/assign"),
            Some(json!({"username": username, "role_id": role_id})),
        )
        .await;
    }

    /// Makes `username` a workspace admin of `default` through a named role.
    async fn make_workspace_admin(&self, username: &str) -> i64 {
        let role_id = self.create_role(ADMIN, "workspace-admins").await;
        self.add_row(role_id, "workspace", "*", "MANAGE").await;
        self.assign(username, role_id).await;
        role_id
    }

    async fn grant(
        &self,
        who: (&str, &str),
        user: &str,
        kind: &str,
        id: &str,
        level: &str,
    ) -> Reply {
        self.call(
            Some(who),
            Method::POST,
            &format!("{USERS}/permissions/grant"),
            Some(
                json!({"username": user, "resource_type": kind, "resource_id": id,
                "permission": level}),
            ),
        )
        .await
    }

    async fn effective(&self, who: (&str, &str), user: &str, kind: &str, id: &str) -> Value {
        self.ok(
            who,
            Method::GET,
            &format!(
                "{USERS}/permissions/get?username={user}&resource_type={kind}&resource_id={id}"
            ),
            None,
        )
        .await
    }
}

fn assert_message(reply: &Reply, status: StatusCode, code: &str, message: &str) {
    assert_error(reply, status, code);
    assert_eq!(reply.body["message"], message, "body: {}", reply.raw);
}

#[tokio::test]
async fn roles_round_trip_in_mlflows_shapes() {
    let app = app();
    let bob_id = app.user_id("bob").await;
    let created = app
        .ok(
            ADMIN,
            Method::POST,
            &format!("{ROLES}/create"),
            Some(json!({"workspace": "default", "name": "readers", "description": "read all"})),
        )
        .await;
    let role_id = created["role"]["id"].as_i64().expect("id");
    assert_eq!(
        created,
        json!({"role": {"description": "read all", "id": role_id, "name": "readers",
            "permissions": [], "workspace": "default"}})
    );

    let added = app
        .call(
            Some(ADMIN),
            Method::POST,
            &format!("{ROLES}/permissions/add"),
            Some(
                json!({"role_id": role_id.to_string(), "resource_type": "experiment",
                "resource_pattern": "*", "permission": "READ"}),
            ),
        )
        .await;
    let row_id = added.body["role_permission"]["id"].as_i64().expect("row");
    // Keys in Flask's sorted order.
    assert_eq!(
        added.raw,
        format!(
            r#"{{"role_permission":{{"id":{row_id},"permission":"READ","resource_pattern":"*","resource_type":"experiment","role_id":{role_id}}}}}"#
        )
    );
    let row = json!({"id": row_id, "permission": "READ", "resource_pattern": "*",
        "resource_type": "experiment", "role_id": role_id});

    let got = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{ROLES}/get?role_id={role_id}"),
            None,
        )
        .await;
    assert_eq!(got["role"]["permissions"], json!([row]));
    let listed = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{ROLES}/permissions/list?role_id={role_id}"),
            None,
        )
        .await;
    assert_eq!(listed, json!({"role_permissions": [row]}));

    let updated = app
        .ok(
            ADMIN,
            Method::PATCH,
            &format!("{ROLES}/permissions/update"),
            Some(json!({"role_permission_id": row_id, "permission": "DENY"})),
        )
        .await;
    assert_eq!(updated["role_permission"]["permission"], "DENY");

    let assigned = app
        .ok(
            ADMIN,
            Method::POST,
            &format!("{ROLES}/assign"),
            Some(json!({"username": "bob", "role_id": role_id})),
        )
        .await;
    let assignment_id = assigned["assignment"]["id"].as_i64().expect("assignment");
    assert_eq!(
        assigned,
        json!({"assignment": {"id": assignment_id, "role_id": role_id, "user_id": bob_id}})
    );
    let holders = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{ROLES}/users/list?role_id={role_id}"),
            None,
        )
        .await;
    assert_eq!(holders["assignments"], json!([assigned["assignment"]]));
    let bobs = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{USERS}/roles/list?username=bob"),
            None,
        )
        .await;
    assert_eq!(bobs["roles"][0]["name"], "readers");
    assert_eq!(bobs["roles"][0]["permissions"][0]["permission"], "DENY");

    let renamed = app
        .ok(
            ADMIN,
            Method::PATCH,
            &format!("{ROLES}/update"),
            Some(json!({"role_id": role_id, "name": "blocked", "description": "no"})),
        )
        .await;
    assert_eq!(
        (&renamed["role"]["name"], &renamed["role"]["description"]),
        (&json!("blocked"), &json!("no"))
    );

    // A synthetic role shows in the listings like any other.
    assert_eq!(
        app.grant(ADMIN, "alice", "experiment", "3", "EDIT")
            .await
            .status,
        StatusCode::OK
    );
    let all = app
        .ok(ADMIN, Method::GET, &format!("{ROLES}/list"), None)
        .await;
    let names: Vec<&str> = all["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    let alice_role = format!("__user_{}__", app.user_id("alice").await);
    assert_eq!(names, ["blocked", alice_role.as_str()]);
    let team = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{ROLES}/list?workspace=team-a"),
            None,
        )
        .await;
    assert_eq!(team, json!({"roles": []}));

    // DELETE reads the body, or the query without one.
    let unassigned = app
        .call(
            Some(ADMIN),
            Method::DELETE,
            &format!("{ROLES}/unassign?username=bob&role_id={role_id}"),
            None,
        )
        .await;
    assert_eq!(
        (unassigned.status, unassigned.body.clone()),
        (StatusCode::OK, json!({}))
    );
    let removed = app
        .call(
            Some(ADMIN),
            Method::DELETE,
            &format!("{ROLES}/permissions/remove"),
            Some(json!({"role_permission_id": row_id})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.raw);
    let deleted = app
        .call(
            Some(ADMIN),
            Method::DELETE,
            &format!("{ROLES}/delete"),
            Some(json!({"role_id": role_id})),
        )
        .await;
    assert_eq!((deleted.status, deleted.body), (StatusCode::OK, json!({})));
    let gone = app
        .call(
            Some(ADMIN),
            Method::GET,
            &format!("{ROLES}/get?role_id={role_id}"),
            None,
        )
        .await;
    assert_message(
        &gone,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        &format!("Role with id={role_id} not found"),
    );
    assert_eq!(gone.body["sqlstate"], "KAM00");
    assert_eq!(gone.body["error_class"], "RESOURCE_NOT_FOUND");

    // The UI's spelling answers the same.
    let ui = app
        .ok(ADMIN, Method::GET, "/ajax-api/3.0/mlflow/roles/list", None)
        .await;
    assert_eq!(ui["roles"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn role_requests_are_refused_with_mlflows_texts() {
    let app = app();
    let role_id = app.create_role(ADMIN, "readers").await;
    let other = app.create_role(ADMIN, "editors").await;
    let row_id = app.add_row(role_id, "experiment", "*", "READ").await;
    let post = |path: &'static str, body: Value| {
        let app = &app;
        async move {
            app.call(
                Some(ADMIN),
                Method::POST,
                &format!("{ROLES}/{path}"),
                Some(body),
            )
            .await
        }
    };
    let invalid = "INVALID_PARAMETER_VALUE";
    let cases: Vec<(Reply, StatusCode, &str, String)> =
        vec![
        (
            post("create", json!({"workspace": "default", "name": "readers"})).await,
            StatusCode::BAD_REQUEST,
            "RESOURCE_ALREADY_EXISTS",
            "Role (name=readers, workspace=default) already exists.".into(),
        ),
        (
            post("create", json!({"workspace": "default", "name": "__user_99__"})).await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Role name '__user_99__' uses the reserved '__user_' prefix, which is held for the \
             per-user permission representation. Choose a different name."
                .into(),
        ),
        (
            post("create", json!({"workspace": "default", "name": ""})).await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Role name cannot be empty.".into(),
        ),
        (
            post("create", json!({"workspace": "", "name": "x"})).await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Workspace cannot be empty.".into(),
        ),
        (
            post("create", json!({"workspace": "default", "name": "x", "description": 5})).await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Role description must be a string or null.".into(),
        ),
        (
            post("permissions/add", json!({"role_id": "abc", "resource_type": "experiment",
                "resource_pattern": "*", "permission": "READ"}))
            .await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Parameter 'role_id' must be an integer. Got: 'abc'".into(),
        ),
        (
            post("permissions/add", json!({"role_id": role_id, "resource_type": "experiment",
                "resource_pattern": "*", "permission": "READ"}))
            .await,
            StatusCode::BAD_REQUEST,
            "RESOURCE_ALREADY_EXISTS",
            format!(
                "Role permission (role_id={role_id}, resource_type=experiment, resource_pattern=*) \
                 already exists."
            ),
        ),
        (
            post("permissions/add", json!({"role_id": role_id, "resource_type": "experiment",
                "resource_pattern": "1", "permission": "NO_PERMISSIONS"}))
            .await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Invalid permission 'NO_PERMISSIONS' for resource_type='experiment'. Resource-level \
             grants accept only: ('DENY', 'EDIT', 'MANAGE', 'READ', 'USE')."
                .into(),
        ),
        (
            post("permissions/add", json!({"role_id": role_id, "resource_type": "workspace",
                "resource_pattern": "*", "permission": "READ"}))
            .await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Invalid permission 'READ' for resource_type='workspace'. Workspace-wide grants \
             accept only: ('MANAGE', 'USE')."
                .into(),
        ),
        (
            post("permissions/add", json!({"role_id": role_id, "resource_type": "run",
                "resource_pattern": "abc", "permission": "READ"}))
            .await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Invalid resource_pattern 'abc' for resource_type='run'. This resource type supports \
             only wildcard ('*') grants."
                .into(),
        ),
        (
            post("permissions/add", json!({"role_id": role_id, "resource_type": "experiment",
                "resource_pattern": "*", "permission": "WRITE"}))
            .await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Invalid permission 'WRITE'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', \
             'NO_PERMISSIONS', 'DENY')"
                .into(),
        ),
        (
            post("permissions/add", json!({"role_id": 9999, "resource_type": "experiment",
                "resource_pattern": "*", "permission": "READ"}))
            .await,
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            "Role with id=9999 not found".into(),
        ),
        (
            post("assign", json!({"username": "nobody", "role_id": role_id})).await,
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            "User with username=nobody not found".into(),
        ),
        (
            post("create", json!({"name": "x"})).await,
            StatusCode::BAD_REQUEST,
            invalid,
            "Missing value for required parameter 'workspace'. See the API docs for more \
             information about request parameters."
                .into(),
        ),
    ];
    for (reply, status, code, message) in &cases {
        assert_message(reply, *status, code, message);
    }

    let patch = |path: &'static str, body: Value| {
        let app = &app;
        async move {
            app.call(
                Some(ADMIN),
                Method::PATCH,
                &format!("{ROLES}/{path}"),
                Some(body),
            )
            .await
        }
    };
    assert_message(
        &patch("update", json!({"role_id": role_id})).await,
        StatusCode::BAD_REQUEST,
        invalid,
        "At least one of 'name' or 'description' must be provided to update a role.",
    );
    assert_message(
        &patch("update", json!({"role_id": role_id, "name": "editors"})).await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        "Role with name=editors already exists in workspace=default",
    );
    assert_message(
        &patch("update", json!({"role_id": other, "description": 1})).await,
        StatusCode::BAD_REQUEST,
        invalid,
        "Role description must be a string.",
    );
    assert_message(
        &patch(
            "permissions/update",
            json!({"role_permission_id": 9999, "permission": "READ"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "Role permission with id=9999 not found",
    );
    let bob_id = app.user_id("bob").await;
    app.assign("bob", role_id).await;
    assert_message(
        &post("assign", json!({"username": "bob", "role_id": role_id})).await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        &format!("User role assignment (user_id={bob_id}, role_id={role_id}) already exists"),
    );
    let unassign = app
        .call(
            Some(ADMIN),
            Method::DELETE,
            &format!("{ROLES}/unassign"),
            Some(json!({"username": "bob", "role_id": other})),
        )
        .await;
    assert_message(
        &unassign,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        &format!("User role assignment (user_id={bob_id}, role_id={other}) not found"),
    );
    let _ = row_id;

    // Not MLflow's: a synthetic role belongs to its user alone.
    assert_eq!(
        app.grant(ADMIN, "alice", "experiment", "1", "READ")
            .await
            .status,
        StatusCode::OK
    );
    let alice_role = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{USERS}/roles/list?username=alice"),
            None,
        )
        .await["roles"][0]["id"]
        .as_i64()
        .expect("synthetic role");
    let stolen = post("assign", json!({"username": "bob", "role_id": alice_role})).await;
    assert_error(&stolen, StatusCode::BAD_REQUEST, invalid);
}

#[tokio::test]
async fn a_workspace_header_is_refused_while_workspaces_are_off() {
    let app = app();
    for path in [
        format!("{ROLES}/list"),
        format!("{USERS}/current/permissions"),
        "/ajax-api/3.0/mlflow/roles/list".to_owned(),
    ] {
        let request = Request::builder()
            .uri(&path)
            .header(header::AUTHORIZATION, basic(ADMIN))
            .header("X-MLFLOW-WORKSPACE", "default")
            .body(Body::empty())
            .expect("request");
        let reply = app.send(request).await;
        assert_eq!(
            reply.raw,
            r#"{"error_code":"FEATURE_DISABLED","message":"Workspace APIs are not available: workspaces are not enabled on this server","sqlstate":"KAM00","error_class":"FEATURE_DISABLED"}"#,
            "{path}"
        );
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    // An empty header names no workspace.
    let request = Request::builder()
        .uri(format!("{ROLES}/list"))
        .header(header::AUTHORIZATION, basic(ADMIN))
        .header("X-MLFLOW-WORKSPACE", "")
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn who_may_call_the_roles_api() {
    let app = app();
    // carol holds a plain role in default: a viewer. alice becomes a workspace admin.
    app.ok(
        ADMIN,
        Method::POST,
        "/api/2.0/mlflow/users/create",
        Some(json!({"username": "carol", "password": "carol-password-123"})),
    )
    .await;
    let carol = ("carol", "carol-password-123");
    let readers = app.create_role(ADMIN, "readers").await;
    app.assign("carol", readers).await;
    let admins_role = app.make_workspace_admin("alice").await;
    let foreign = app
        .ok(
            ADMIN,
            Method::POST,
            &format!("{ROLES}/create"),
            Some(json!({"workspace": "team-a", "name": "outside"})),
        )
        .await["role"]["id"]
        .as_i64()
        .expect("id");

    // The workspace admin manages default's roles.
    let made = app.create_role(ALICE, "made-by-alice").await;
    let added = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{ROLES}/permissions/add"),
            Some(json!({"role_id": made, "resource_type": "experiment",
                "resource_pattern": "*", "permission": "USE"})),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.raw);
    let assigned = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{ROLES}/assign"),
            Some(json!({"username": "bob", "role_id": made})),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.raw);
    app.ok(
        ALICE,
        Method::GET,
        &format!("{ROLES}/users/list?role_id={readers}"),
        None,
    )
    .await;
    let bobs = app
        .ok(
            ALICE,
            Method::GET,
            &format!("{USERS}/roles/list?username=bob"),
            None,
        )
        .await;
    assert_eq!(bobs["roles"][0]["name"], "made-by-alice");
    // ... but not another workspace's roles, nor the whole list.
    let refused = [
        app.call(
            Some(ALICE),
            Method::GET,
            &format!("{ROLES}/users/list?role_id={foreign}"),
            None,
        )
        .await,
        app.call(Some(ALICE), Method::GET, &format!("{ROLES}/list"), None)
            .await,
        app.call(
            Some(ALICE),
            Method::POST,
            &format!("{ROLES}/create"),
            Some(json!({"workspace": "team-a", "name": "x"})),
        )
        .await,
    ];
    for reply in &refused {
        assert_error(reply, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    }

    // A viewer reads default's roles and nothing more.
    app.ok(
        carol,
        Method::GET,
        &format!("{ROLES}/get?role_id={admins_role}"),
        None,
    )
    .await;
    app.ok(
        carol,
        Method::GET,
        &format!("{ROLES}/permissions/list?role_id={readers}"),
        None,
    )
    .await;
    let listed = app
        .ok(
            carol,
            Method::GET,
            &format!("{ROLES}/list?workspace=default"),
            None,
        )
        .await;
    assert_eq!(listed["roles"].as_array().map(Vec::len), Some(3));
    let viewer_refused = [
        app.call(
            Some(carol),
            Method::GET,
            &format!("{ROLES}/users/list?role_id={readers}"),
            None,
        )
        .await,
        app.call(Some(carol), Method::GET, &format!("{ROLES}/list"), None)
            .await,
        app.call(
            Some(carol),
            Method::GET,
            &format!("{ROLES}/list?workspace=default&workspace=team-a"),
            None,
        )
        .await,
        app.call(
            Some(carol),
            Method::GET,
            &format!("{ROLES}/get?role_id={foreign}"),
            None,
        )
        .await,
        app.call(
            Some(carol),
            Method::POST,
            &format!("{ROLES}/create"),
            Some(json!({"workspace": "default", "name": "x"})),
        )
        .await,
        app.call(
            Some(carol),
            Method::DELETE,
            &format!("{ROLES}/delete?role_id={readers}"),
            None,
        )
        .await,
        app.call(
            Some(carol),
            Method::GET,
            &format!("{USERS}/roles/list?username=bob"),
            None,
        )
        .await,
    ];
    for reply in &viewer_refused {
        assert_error(reply, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    }
    // Their own roles they may list.
    app.ok(
        carol,
        Method::GET,
        &format!("{USERS}/roles/list?username=carol"),
        None,
    )
    .await;
}

#[tokio::test]
async fn a_stranger_cannot_probe_for_roles_or_users() {
    let app = app();
    let role_id = app.create_role(ADMIN, "readers").await;
    let row_id = app.add_row(role_id, "experiment", "*", "READ").await;
    app.make_workspace_admin("alice").await;
    // The same answer for what exists and what does not.
    for (existing, missing) in [
        (
            format!("{ROLES}/get?role_id={role_id}"),
            format!("{ROLES}/get?role_id=9999"),
        ),
        (
            format!("{ROLES}/permissions/list?role_id={role_id}"),
            format!("{ROLES}/permissions/list?role_id=9999"),
        ),
        (
            format!("{ROLES}/users/list?role_id={role_id}"),
            format!("{ROLES}/users/list?role_id=9999"),
        ),
        (
            format!("{USERS}/roles/list?username=alice"),
            format!("{USERS}/roles/list?username=nobody"),
        ),
        (
            format!("{USERS}/permissions/list?username=alice"),
            format!("{USERS}/permissions/list?username=nobody"),
        ),
        (
            format!(
                "{USERS}/permissions/get?username=alice&resource_type=experiment&resource_id=1"
            ),
            format!(
                "{USERS}/permissions/get?username=nobody&resource_type=experiment&resource_id=1"
            ),
        ),
    ] {
        // Under the UI's prefix too, and by HEAD, which answers the status alone.
        let ajax = |uri: &str| uri.replacen("/api/", "/ajax-api/", 1);
        for (existing, missing) in [
            (existing.clone(), missing.clone()),
            (ajax(&existing), ajax(&missing)),
        ] {
            let a = app.call(Some(BOB), Method::GET, &existing, None).await;
            let b = app.call(Some(BOB), Method::GET, &missing, None).await;
            assert_error(&a, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
            assert_eq!(
                (a.status, a.raw),
                (b.status, b.raw),
                "{existing} vs {missing}"
            );
            let a = app.call(Some(BOB), Method::HEAD, &existing, None).await;
            let b = app.call(Some(BOB), Method::HEAD, &missing, None).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "HEAD {existing}");
            assert_eq!(a.status, b.status, "HEAD {existing} vs {missing}");
        }
    }
    for (body_a, body_b) in [(
        json!({"role_permission_id": row_id, "permission": "EDIT"}),
        json!({"role_permission_id": 9999, "permission": "EDIT"}),
    )] {
        let a = app
            .call(
                Some(BOB),
                Method::PATCH,
                &format!("{ROLES}/permissions/update"),
                Some(body_a),
            )
            .await;
        let b = app
            .call(
                Some(BOB),
                Method::PATCH,
                &format!("{ROLES}/permissions/update"),
                Some(body_b),
            )
            .await;
        assert_error(&a, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
        assert_eq!(a.raw, b.raw);
    }
    // A workspace admin does not learn of users outside their workspace either.
    let outsider = app
        .call(
            Some(ALICE),
            Method::GET,
            &format!("{USERS}/roles/list?username=bob"),
            None,
        )
        .await;
    let nobody = app
        .call(
            Some(ALICE),
            Method::GET,
            &format!("{USERS}/roles/list?username=nobody"),
            None,
        )
        .await;
    assert_error(&outsider, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    assert_eq!(outsider.raw, nobody.raw);
}

#[tokio::test]
async fn per_user_permissions_round_trip() {
    let app = app_with_default(Permission::NoPermissions);
    let bob_id = app.user_id("bob").await;
    let granted = app.grant(ADMIN, "bob", "experiment", "1", "READ").await;
    assert_eq!((granted.status, granted.body), (StatusCode::OK, json!({})));
    assert_message(
        &app.grant(ADMIN, "bob", "experiment", "1", "EDIT").await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        "Permission for user=bob on resource_type=experiment, resource_id=1 already exists.",
    );
    assert_eq!(
        app.effective(ADMIN, "bob", "experiment", "1").await,
        json!({"allowed": false, "permission": "READ"})
    );
    app.grant(ADMIN, "bob", "experiment", "2", "USE").await;
    assert_eq!(
        app.effective(BOB, "bob", "experiment", "2").await,
        json!({"allowed": true, "permission": "USE"})
    );
    app.grant(ADMIN, "bob", "run", "*", "DENY").await;
    assert_eq!(
        app.effective(ADMIN, "bob", "run", "*").await,
        json!({"allowed": false, "permission": "DENY"})
    );
    assert_eq!(
        app.effective(ADMIN, "bob", "experiment", "99").await,
        json!({"allowed": false, "permission": "NO_PERMISSIONS"})
    );
    assert_eq!(
        app.effective(ADMIN, "admin", "experiment", "99").await,
        json!({"allowed": true, "permission": "MANAGE"})
    );

    let rows = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{USERS}/permissions/list?username=bob"),
            None,
        )
        .await;
    let role_id = rows["permissions"][0]["role_id"].as_i64().expect("role");
    let row = |pattern: &str, kind: &str, level: &str| {
        json!({"permission": level, "resource_pattern": pattern, "resource_type": kind,
            "role_id": role_id, "role_name": format!("__user_{bob_id}__"), "workspace": "default"})
    };
    assert_eq!(
        rows,
        json!({"is_admin": false, "permissions": [
            row("1", "experiment", "READ"), row("2", "experiment", "USE"), row("*", "run", "DENY")]})
    );
    let own = app
        .ok(
            BOB,
            Method::GET,
            &format!("{USERS}/current/permissions"),
            None,
        )
        .await;
    assert_eq!(own, rows);
    let ui = app
        .ok(
            BOB,
            Method::GET,
            "/ajax-api/3.0/mlflow/users/current/permissions",
            None,
        )
        .await;
    assert_eq!(ui, rows);

    let revoke = |body: Value| {
        let app = &app;
        async move {
            app.call(
                Some(ADMIN),
                Method::POST,
                &format!("{USERS}/permissions/revoke"),
                Some(body),
            )
            .await
        }
    };
    let revoked =
        revoke(json!({"username": "bob", "resource_type": "experiment", "resource_id": "1"})).await;
    assert_eq!((revoked.status, revoked.body), (StatusCode::OK, json!({})));
    assert_message(
        &revoke(json!({"username": "bob", "resource_type": "experiment", "resource_id": "1"}))
            .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "Permission for user=bob on resource_type=experiment, resource_id=1 not found.",
    );
    // Revoke is a POST, as in MLflow.
    let wrong_method = app
        .call(
            Some(ADMIN),
            Method::DELETE,
            &format!("{USERS}/permissions/revoke"),
            Some(json!({"username": "bob", "resource_type": "experiment", "resource_id": "2"})),
        )
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);

    let invalid = "INVALID_PARAMETER_VALUE";
    assert_message(
        &app.grant(ADMIN, "bob", "workspace", "*", "USE").await,
        StatusCode::BAD_REQUEST,
        invalid,
        "resource_type 'workspace' is not supported by the per-user permission convenience APIs. \
         Use set_workspace_permission / delete_workspace_permission for workspace-wide grants.",
    );
    assert_message(
        &app.grant(ADMIN, "nobody", "experiment", "1", "READ").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "User with username=nobody not found",
    );
    let get = |query: &'static str| {
        let app = &app;
        async move {
            app.call(
                Some(ADMIN),
                Method::GET,
                &format!("{USERS}/permissions/get?{query}"),
                None,
            )
            .await
        }
    };
    assert_message(
        &get("username=bob&resource_type=prompt&resource_id=p").await,
        StatusCode::BAD_REQUEST,
        invalid,
        "resource_type 'prompt' is not supported by the per-user permission convenience APIs.",
    );
    assert_message(
        &get("username=bob&resource_type=scorer&resource_id=noslash").await,
        StatusCode::BAD_REQUEST,
        invalid,
        "Invalid scorer resource_id. Expected '<experiment_id>/<scorer_name>'.",
    );
    // An admin may grant a prompt id; the row is stored.
    assert_eq!(
        app.grant(ADMIN, "bob", "prompt", "p", "READ").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn granting_needs_manage_on_the_resource_or_a_workspace_admin_for_wildcards() {
    let app = app_with_default(Permission::NoPermissions);
    let denied = app.grant(ALICE, "bob", "experiment", "7", "READ").await;
    assert_error(&denied, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    app.grant(ADMIN, "alice", "experiment", "7", "MANAGE").await;
    assert_eq!(
        app.grant(ALICE, "bob", "experiment", "7", "READ")
            .await
            .status,
        StatusCode::OK
    );
    let revoked = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{USERS}/permissions/revoke"),
            Some(json!({"username": "bob", "resource_type": "experiment", "resource_id": "7"})),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.raw);
    for reply in [
        app.grant(ALICE, "bob", "experiment", "8", "READ").await,
        app.grant(ALICE, "bob", "experiment", "*", "READ").await,
    ] {
        assert_error(&reply, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    }
    assert_error(
        &app.grant(ALICE, "bob", "prompt", "p", "READ").await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
    );
    // A non-admin reads only their own effective permissions.
    assert_eq!(
        app.effective(ALICE, "alice", "experiment", "7").await,
        json!({"allowed": true, "permission": "MANAGE"})
    );

    // A workspace admin grants wildcards, and MANAGE resolves everywhere for them.
    app.make_workspace_admin("alice").await;
    assert_eq!(
        app.grant(ALICE, "bob", "experiment", "*", "READ")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.grant(ALICE, "bob", "experiment", "8", "EDIT")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.effective(ALICE, "bob", "experiment", "8").await,
        json!({"allowed": true, "permission": "EDIT"})
    );
    let listed = app
        .ok(
            ALICE,
            Method::GET,
            &format!("{USERS}/permissions/list?username=bob"),
            None,
        )
        .await;
    assert_eq!(listed["permissions"].as_array().map(Vec::len), Some(2));
    // bob is no workspace admin: another user's rows stay hidden.
    let hidden = app
        .call(
            Some(BOB),
            Method::GET,
            &format!("{USERS}/permissions/list?username=alice"),
            None,
        )
        .await;
    assert_error(&hidden, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
}

#[tokio::test]
async fn a_deny_through_a_role_blocks_the_gateway() {
    let app = app_with_default(Permission::Read);
    let read = "/api/2.0/mlflow/experiments/get?experiment_id=1";
    let before = app.call(Some(BOB), Method::GET, read, None).await;
    assert_ne!(before.status, StatusCode::FORBIDDEN, "{}", before.raw);

    let role_id = app.create_role(ADMIN, "blocked").await;
    app.add_row(role_id, "experiment", "1", "DENY").await;
    app.assign("bob", role_id).await;
    let after = app.call(Some(BOB), Method::GET, read, None).await;
    assert_error(&after, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    // A per-user MANAGE does not lift the role's DENY.
    app.grant(ADMIN, "bob", "experiment", "1", "MANAGE").await;
    let still = app.call(Some(BOB), Method::GET, read, None).await;
    assert_error(&still, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    assert_eq!(
        app.effective(ADMIN, "bob", "experiment", "1").await,
        json!({"allowed": false, "permission": "DENY"})
    );
    // A workspace admin is above DENY.
    app.make_workspace_admin("bob").await;
    let admin_now = app.call(Some(BOB), Method::GET, read, None).await;
    assert_ne!(admin_now.status, StatusCode::FORBIDDEN, "{}", admin_now.raw);
}

#[tokio::test]
async fn the_310_and_317_apis_see_the_same_grants() {
    let app = app();
    // 3.10 -> 3.17.
    let created = app
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/2.0/mlflow/experiments/permissions/create",
            Some(json!({"experiment_id": "1", "username": "bob", "permission": "EDIT"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.raw);
    let rows = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{USERS}/permissions/list?username=bob"),
            None,
        )
        .await;
    assert_eq!(rows["permissions"][0]["resource_type"], "experiment");
    assert_eq!(rows["permissions"][0]["resource_pattern"], "1");
    assert_eq!(rows["permissions"][0]["permission"], "EDIT");
    let revoked = app
        .call(
            Some(ADMIN),
            Method::POST,
            &format!("{USERS}/permissions/revoke"),
            Some(json!({"username": "bob", "resource_type": "experiment", "resource_id": "1"})),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.raw);
    let gone = app
        .call(
            Some(ADMIN),
            Method::GET,
            "/api/2.0/mlflow/experiments/permissions/get?experiment_id=1&username=bob",
            None,
        )
        .await;
    assert_error(&gone, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");

    // 3.17 -> 3.10.
    app.grant(ADMIN, "bob", "experiment", "3", "MANAGE").await;
    app.grant(ADMIN, "bob", "registered_model", "my-model", "READ")
        .await;
    let got = app
        .ok(
            ADMIN,
            Method::GET,
            "/api/2.0/mlflow/experiments/permissions/get?experiment_id=3&username=bob",
            None,
        )
        .await;
    assert_eq!(got["experiment_permission"]["permission"], "MANAGE");
    let user = app
        .ok(
            ADMIN,
            Method::GET,
            "/api/2.0/mlflow/users/get?username=bob",
            None,
        )
        .await;
    assert_eq!(
        user["user"]["experiment_permissions"][0]["experiment_id"],
        "3"
    );
    assert_eq!(
        user["user"]["registered_model_permissions"][0]["name"],
        "my-model"
    );
    assert_eq!(
        user["user"]["registered_model_permissions"][0]["permission"],
        "READ"
    );
}

/// Under a MANAGE default anyone may grant on an experiment, so granting on an id
/// the tracking server does not hold would claim it ahead of its creator: refused,
/// as through the 3.10 API. An admin may still grant ahead, as in MLflow 3.17.
#[tokio::test]
async fn a_user_cannot_claim_an_id_before_it_exists() {
    let app = app_with_default(Permission::Manage);
    for who in ["bob", "alice"] {
        let claimed = app.grant(ALICE, who, "experiment", "404", "MANAGE").await;
        assert_message(
            &claimed,
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            "No Experiment with id=404 exists",
        );
    }
    let model = app
        .grant(ALICE, "bob", "registered_model", "missing-model", "READ")
        .await;
    assert_error(&model, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
    // Nothing was stored: the id stays unclaimed.
    assert_eq!(
        app.effective(ALICE, "alice", "experiment", "404").await["permission"],
        "MANAGE",
        "the MANAGE default, not a grant"
    );
    let rows = app
        .ok(
            ADMIN,
            Method::GET,
            &format!("{USERS}/permissions/list?username=bob"),
            None,
        )
        .await;
    assert_eq!(rows["permissions"], json!([]));
    // Once it exists, the same grant is made; an admin needs no existence.
    app.tracking.create(&Resource::Experiment(
        ExperimentId::parse("404").expect("id"),
    ));
    assert_eq!(
        app.grant(ALICE, "bob", "experiment", "404", "EDIT")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.grant(ADMIN, "bob", "experiment", "405", "READ")
            .await
            .status,
        StatusCode::OK
    );
    // An MCP server is looked up like the rest (this one exists)...
    assert_eq!(
        app.grant(ALICE, "bob", "mcp_server", "team/search", "READ")
            .await
            .status,
        StatusCode::OK
    );
    let missing = app
        .grant(ALICE, "bob", "mcp_server", "team/missing", "READ")
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
    // ... and so is a skill; but an id mlguard cannot look up (not in canonical
    // form) is not a non-admin's to grant on.
    assert_eq!(
        app.grant(ALICE, "bob", "skill", "acme/lint", "READ")
            .await
            .status,
        StatusCode::OK
    );
    let odd = app.grant(ALICE, "bob", "experiment", "01", "READ").await;
    assert_error(&odd, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE");
}
