//! Keycloak's groups through the gateway, on every backend: the tree (create, children,
//! duplicate names, rename and move with the paths below following, search, paging, count,
//! delete), memberships, group role mappings that reach the members' tokens, the user-list
//! filters `groups`, `filterForRole`, `includeRolesForClient` and `sort`, and who may call.

use crate::common::{master_admin_token, password_token, ready_platform, service};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends, http};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status();
    let location = reply
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().rsplit('/').next().unwrap().to_owned());
    let bytes = reply.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        location,
    )
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn realm_roles_in(token: &str) -> Vec<String> {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["realm_access"]["roles"]
        .as_array()
        .map(|r| r.iter().map(|n| n.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[actix_web::test]
async fn groups_memberships_and_group_roles() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let platform = ready_platform(&env).await;
        let gw = platform.gateway.url.clone();
        let name = backend.name();
        let client = http();
        let admin = master_admin_token(&client, &gw).await;
        let at = |path: &str| format!("{gw}/admin/realms/acme{path}");

        for realm in ["acme", "other"] {
            let (status, _, _) = call(
                &client,
                Method::POST,
                &format!("{gw}/admin/realms"),
                &admin,
                Some(json!({"realm": realm, "enabled": true})),
            )
            .await;
            assert_eq!(status, 201, "{name}");
        }
        let (status, _, _) = call(
            &client,
            Method::POST,
            &at("/roles"),
            &admin,
            Some(json!({"name": "reader"})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let (_, reader, _) = call(&client, Method::GET, &at("/roles/reader"), &admin, None).await;
        let reader_id = reader["id"].as_str().unwrap().to_owned();
        let mut user_ids = Vec::new();
        for (username, email) in [
            ("alice", "c@example.com"),
            ("bob", "a@example.com"),
            ("carol", "b@example.com"),
        ] {
            let (status, _, id) = call(
                &client,
                Method::POST,
                &at("/users"),
                &admin,
                Some(json!({"username": username, "email": email, "enabled": true,
                            "credentials": [{"type": "password", "value": "Passw0rd-for-tests", "temporary": false}]})),
            )
            .await;
            assert_eq!(status, 201, "{name}");
            user_ids.push(id.unwrap());
        }
        let (alice, bob, carol) = (
            user_ids[0].clone(),
            user_ids[1].clone(),
            user_ids[2].clone(),
        );

        // The tree: a top-level group, children, duplicates refused.
        let (status, _, staff) = call(
            &client,
            Method::POST,
            &at("/groups"),
            &admin,
            Some(json!({"name": "staff", "attributes": {"floor": ["3"]}})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let staff = staff.unwrap();
        let (status, body, _) = call(
            &client,
            Method::POST,
            &at("/groups"),
            &admin,
            Some(json!({"name": "staff"})),
        )
        .await;
        assert_eq!(status, 409, "{name}: {body}");
        assert!(
            body["errorMessage"].as_str().unwrap().contains("staff"),
            "{name}: {body}"
        );
        for bad in [
            json!({"name": ""}),
            json!({"name": "a/b"}),
            json!({"name": 7}),
            json!([]),
            json!({}),
        ] {
            let (status, body, _) = call(
                &client,
                Method::POST,
                &at("/groups"),
                &admin,
                Some(bad.clone()),
            )
            .await;
            assert_eq!(status, 400, "{name}: {bad} -> {body}");
        }
        let child = |parent: &str| at(&format!("/groups/{parent}/children"));
        let (status, _, devs) = call(
            &client,
            Method::POST,
            &child(&staff),
            &admin,
            Some(json!({"name": "devs"})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let devs = devs.unwrap();
        let (status, body, _) = call(
            &client,
            Method::POST,
            &child(&staff),
            &admin,
            Some(json!({"name": "devs"})),
        )
        .await;
        assert_eq!(status, 409, "{name}: {body}");
        let (status, _, ops) = call(
            &client,
            Method::POST,
            &child(&staff),
            &admin,
            Some(json!({"name": "ops"})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let ops = ops.unwrap();
        let (status, _, juniors) = call(
            &client,
            Method::POST,
            &child(&devs),
            &admin,
            Some(json!({"name": "juniors"})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let juniors = juniors.unwrap();
        // The same name at another level is no duplicate.
        let (status, _, top_devs) = call(
            &client,
            Method::POST,
            &at("/groups"),
            &admin,
            Some(json!({"name": "devs"})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let top_devs = top_devs.unwrap();

        // Listing: top level by name, subgroups nested, brief unless asked.
        let (status, list, _) = call(&client, Method::GET, &at("/groups"), &admin, None).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(names(&list, "name"), ["devs", "staff"], "{name}");
        let staff_rep = &list[1];
        assert_eq!(staff_rep["subGroupCount"], 2, "{name}: {staff_rep}");
        assert_eq!(
            names(&staff_rep["subGroups"], "path"),
            ["/staff/devs", "/staff/ops"],
            "{name}"
        );
        assert_eq!(
            staff_rep["subGroups"][0]["subGroups"][0]["path"], "/staff/devs/juniors",
            "{name}"
        );
        assert!(staff_rep.get("attributes").is_none(), "{name}: {staff_rep}");
        let (_, full, _) = call(
            &client,
            Method::GET,
            &at("/groups?briefRepresentation=false"),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            full[1]["attributes"]["floor"],
            json!(["3"]),
            "{name}: {full}"
        );
        let (_, page, _) = call(
            &client,
            Method::GET,
            &at("/groups?first=1&max=1"),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&page, "name"), ["staff"], "{name}");
        let (status, _, _) =
            call(&client, Method::GET, &at("/groups?first=-1"), &admin, None).await;
        assert_eq!(status, 400, "{name}");
        // Search: the top-level groups leading to matches, holding only those branches.
        let (_, found, _) = call(
            &client,
            Method::GET,
            &at("/groups?search=JUN"),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&found, "name"), ["staff"], "{name}: {found}");
        let (_, flat, _) = call(
            &client,
            Method::GET,
            &at("/groups?search=dev&populateHierarchy=false&first=1&max=5"),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&flat, "path"), ["/staff/devs"], "{name}: {flat}");
        assert_eq!(
            names(&found[0]["subGroups"], "name"),
            ["devs"],
            "{name}: {found}"
        );
        assert_eq!(
            found[0]["subGroups"][0]["subGroups"][0]["name"], "juniors",
            "{name}"
        );
        let (_, count, _) = call(&client, Method::GET, &at("/groups/count"), &admin, None).await;
        assert_eq!(count, json!({"count": 5}), "{name}");
        let (_, count, _) = call(
            &client,
            Method::GET,
            &at("/groups/count?top=true"),
            &admin,
            None,
        )
        .await;
        assert_eq!(count, json!({"count": 2}), "{name}");
        let (_, kids, _) = call(&client, Method::GET, &child(&staff), &admin, None).await;
        assert_eq!(names(&kids, "name"), ["devs", "ops"], "{name}");
        assert_eq!(kids[0]["subGroupCount"], 1, "{name}: {kids}");

        // One group: full representation with access; unknown and malformed ids are 404.
        let (status, one, _) = call(
            &client,
            Method::GET,
            &at(&format!("/groups/{staff}")),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(one["path"], "/staff", "{name}");
        assert_eq!(one["attributes"]["floor"], json!(["3"]), "{name}");
        assert_eq!(one["access"]["manage"], true, "{name}");
        for id in [
            "00000000-0000-0000-0000-000000000000",
            "not%20an%20id",
            &"x".repeat(200),
        ] {
            let (status, _, _) = call(
                &client,
                Method::GET,
                &at(&format!("/groups/{id}")),
                &admin,
                None,
            )
            .await;
            assert_eq!(status, 404, "{name}: {id}");
        }
        // By path (not routed by the gateway yet: asked of svc-users itself).
        let users_url = &service(&platform, ServiceKind::Users).url;
        let (status, by_path, _) = call(
            &client,
            Method::GET,
            &format!("{users_url}/admin/realms/acme/group-by-path/staff/devs/juniors"),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            (status, by_path["id"].as_str()),
            (StatusCode::OK, Some(juniors.as_str())),
            "{name}"
        );

        // Rename: 409 onto a sibling's name; otherwise the paths below follow.
        let group_url = |id: &str| at(&format!("/groups/{id}"));
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &group_url(&devs),
            &admin,
            Some(json!({"name": "ops"})),
        )
        .await;
        assert_eq!(status, 409, "{name}");
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &group_url(&devs),
            &admin,
            Some(json!({"name": "engineers"})),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (_, moved, _) = call(&client, Method::GET, &group_url(&juniors), &admin, None).await;
        assert_eq!(moved["path"], "/staff/engineers/juniors", "{name}");
        assert_eq!(moved["parentId"], devs.as_str(), "{name}");
        // Move: into itself or below itself is refused; to the top level works.
        let (status, _, _) = call(
            &client,
            Method::POST,
            &child(&juniors),
            &admin,
            Some(json!({"id": staff})),
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (status, _, _) = call(
            &client,
            Method::POST,
            &child(&staff),
            &admin,
            Some(json!({"id": "00000000-0000-0000-0000-000000000000"})),
        )
        .await;
        assert_eq!(status, 404, "{name}");
        let (status, _, _) = call(
            &client,
            Method::POST,
            &at("/groups"),
            &admin,
            Some(json!({"id": juniors})),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (_, moved, _) = call(&client, Method::GET, &group_url(&juniors), &admin, None).await;
        assert_eq!(moved["path"], "/juniors", "{name}");
        // Moving the top-level `devs` below staff collides with nothing; moving `ops` to the
        // top level collides with nothing either; moving `juniors` back works.
        let (status, _, _) = call(
            &client,
            Method::POST,
            &child(&devs),
            &admin,
            Some(json!({"id": juniors})),
        )
        .await;
        assert_eq!(status, 204, "{name}");

        // Memberships.
        let membership = |user: &str, group: &str| at(&format!("/users/{user}/groups/{group}"));
        for _ in 0..2 {
            let (status, _, _) = call(
                &client,
                Method::PUT,
                &membership(&alice, &devs),
                &admin,
                None,
            )
            .await;
            assert_eq!(status, 204, "{name}");
        }
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &membership(&alice, "00000000-0000-0000-0000-000000000000"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        let (status, _, _) = call(
            &client,
            Method::PUT,
            &membership("nobody", &devs),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");
        let (_, members, _) = call(
            &client,
            Method::GET,
            &at(&format!("/groups/{devs}/members")),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&members, "username"), ["alice"], "{name}");
        // Keycloak's create takes group paths; an unknown one refuses the whole user.
        let (status, _, erin) = call(
            &client,
            Method::POST,
            &at("/users"),
            &admin,
            Some(json!({"username": "erin", "groups": ["/staff/ops"]})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let (_, erins, _) = call(
            &client,
            Method::GET,
            &at(&format!("/users/{}/groups", erin.unwrap())),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&erins, "path"), ["/staff/ops"], "{name}");
        let (status, _, _) = call(
            &client,
            Method::POST,
            &at("/users"),
            &admin,
            Some(json!({"username": "frank", "groups": ["/staff/nope"]})),
        )
        .await;
        assert_eq!(status, 400, "{name}");
        let (_, frank, _) = call(
            &client,
            Method::GET,
            &at("/users?username=frank&exact=true"),
            &admin,
            None,
        )
        .await;
        assert_eq!(frank, json!([]), "{name}");
        let (_, groups_of_alice, _) = call(
            &client,
            Method::GET,
            &at(&format!("/users/{alice}/groups")),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            names(&groups_of_alice, "path"),
            ["/staff/engineers"],
            "{name}"
        );
        let (_, count, _) = call(
            &client,
            Method::GET,
            &at(&format!("/users/{alice}/groups/count")),
            &admin,
            None,
        )
        .await;
        assert_eq!(count, json!({"count": 1}), "{name}");
        let (_, listed, _) = call(
            &client,
            Method::GET,
            &at("/users?groups=engineers"),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&listed, "username"), ["alice"], "{name}");
        let (_, listed, _) = call(
            &client,
            Method::GET,
            &at("/users/count?groups=engineers,ops"),
            &admin,
            None,
        )
        .await;
        assert_eq!(listed, json!(2), "{name}: members of either");

        // A role of the parent group reaches the member's token and effective roles.
        let roles_url = at(&format!("/groups/{staff}/role-mappings/realm"));
        let (status, _, _) = call(
            &client,
            Method::POST,
            &roles_url,
            &admin,
            Some(json!([{"name": "reader"}])),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (status, _, _) = call(
            &client,
            Method::POST,
            &roles_url,
            &admin,
            Some(json!([{"name": "no-such-role"}])),
        )
        .await;
        assert_eq!(status, 404, "{name}");
        let (_, held, _) = call(&client, Method::GET, &roles_url, &admin, None).await;
        assert_eq!(names(&held, "name"), ["reader"], "{name}");
        let (_, mappings, _) = call(
            &client,
            Method::GET,
            &at(&format!("/groups/{staff}/role-mappings")),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            names(&mappings["realmMappings"], "name"),
            ["reader"],
            "{name}"
        );
        let token = password_token(
            &client,
            &gw,
            "acme",
            "admin-cli",
            "alice",
            "Passw0rd-for-tests",
        )
        .await;
        assert!(
            realm_roles_in(&token).contains(&"reader".to_owned()),
            "{name}"
        );
        let (_, effective, _) = call(
            &client,
            Method::GET,
            &at(&format!("/users/{alice}/role-mappings/realm/composite")),
            &admin,
            None,
        )
        .await;
        assert!(
            names(&effective, "name").contains(&"reader".to_owned()),
            "{name}"
        );

        // filterForRole holds direct grants only; includeRolesForClient lists a client's roles.
        let (status, _, _) = call(
            &client,
            Method::POST,
            &at(&format!("/users/{bob}/role-mappings/realm")),
            &admin,
            Some(json!([{"name": "reader"}])),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (_, listed, _) = call(
            &client,
            Method::GET,
            &at(&format!("/users?filterForRole={reader_id}")),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&listed, "username"), ["bob"], "{name}");
        let (_, n, _) = call(
            &client,
            Method::GET,
            &at("/users/count?filterForRole=reader"),
            &admin,
            None,
        )
        .await;
        assert_eq!(n, json!(1), "{name}");
        let (_, listed, _) = call(
            &client,
            Method::GET,
            &at("/users?filterForRole=no-such-role"),
            &admin,
            None,
        )
        .await;
        assert_eq!(listed, json!([]), "{name}");
        let (_, clients, _) = call(
            &client,
            Method::GET,
            &at("/clients?clientId=realm-management"),
            &admin,
            None,
        )
        .await;
        let management = clients[0]["id"].as_str().unwrap().to_owned();
        let (status, _, _) = call(
            &client,
            Method::POST,
            &at(&format!(
                "/users/{carol}/role-mappings/clients/{management}"
            )),
            &admin,
            Some(json!([{"name": "view-users"}])),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (_, listed, _) = call(
            &client,
            Method::GET,
            &at(&format!("/users?includeRolesForClient={management}")),
            &admin,
            None,
        )
        .await;
        assert_eq!(listed[2]["username"], "carol", "{name}");
        assert_eq!(
            listed[2]["clientRoles"]["realm-management"],
            json!(["view-users"]),
            "{name}: {listed}"
        );
        assert_eq!(
            listed[0]["clientRoles"]["realm-management"],
            json!([]),
            "{name}"
        );
        let (_, listed, _) = call(
            &client,
            Method::GET,
            &at(&format!(
                "/users?includeRolesForClient={management}&filterForRole=view-users"
            )),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&listed, "username"), ["carol"], "{name}");
        let (status, _, _) = call(
            &client,
            Method::GET,
            &at("/users?includeRolesForClient=00000000-0000-0000-0000-000000000000"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 404, "{name}");

        // sort: any of the indexed columns, either way; anything else is 400.
        let (_, listed, _) = call(
            &client,
            Method::GET,
            &at("/users?sort=username:desc"),
            &admin,
            None,
        )
        .await;
        assert_eq!(
            names(&listed, "username"),
            ["erin", "carol", "bob", "alice"],
            "{name}"
        );
        let (_, listed, _) = call(
            &client,
            Method::GET,
            &at("/users?sort=email:asc&max=2"),
            &admin,
            None,
        )
        .await;
        assert_eq!(names(&listed, "username"), ["bob", "carol"], "{name}");
        for bad in ["sort=password:asc", "sort=email:sideways", "max=-1"] {
            let (status, _, _) = call(
                &client,
                Method::GET,
                &at(&format!("/users?{bad}")),
                &admin,
                None,
            )
            .await;
            assert_eq!(status, 400, "{name}: {bad}");
        }

        // Who may call: a plain user of the tenant is refused (403); so is an administrator
        // of another tenant, at the gateway and at svc-users itself (its token is not one
        // of this tenant: 401, or 403 should the token check ever admit it).
        let plain = password_token(
            &client,
            &gw,
            "acme",
            "admin-cli",
            "bob",
            "Passw0rd-for-tests",
        )
        .await;
        let (status, _, _) = call(&client, Method::GET, &at("/groups"), &plain, None).await;
        assert_eq!(status, 403, "{name}");
        let (status, _, _) = call(
            &client,
            Method::POST,
            &at("/groups"),
            &plain,
            Some(json!({"name": "x"})),
        )
        .await;
        assert_eq!(status, 403, "{name}");
        let (status, _, olga) = call(
            &client,
            Method::POST,
            &format!("{gw}/admin/realms/other/users"),
            &admin,
            Some(json!({"username": "olga", "enabled": true,
                        "credentials": [{"type": "password", "value": "Passw0rd-for-tests", "temporary": false}]})),
        )
        .await;
        assert_eq!(status, 201, "{name}");
        let (_, other_clients, _) = call(
            &client,
            Method::GET,
            &format!("{gw}/admin/realms/other/clients?clientId=realm-management"),
            &admin,
            None,
        )
        .await;
        let (status, _, _) = call(
            &client,
            Method::POST,
            &format!(
                "{gw}/admin/realms/other/users/{}/role-mappings/clients/{}",
                olga.unwrap(),
                other_clients[0]["id"].as_str().unwrap()
            ),
            &admin,
            Some(json!([{"name": "realm-admin"}])),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let olga = password_token(
            &client,
            &gw,
            "other",
            "admin-cli",
            "olga",
            "Passw0rd-for-tests",
        )
        .await;
        let (status, _, _) = call(
            &client,
            Method::GET,
            &format!("{gw}/admin/realms/other/groups"),
            &olga,
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}: olga administers her own tenant");
        let (status, _, _) = call(&client, Method::GET, &at("/users"), &olga, None).await;
        assert!(status == 401 || status == 403, "{name}: {status}");
        for path in ["/users", "/groups", &format!("/users/{alice}/groups")] {
            let (status, body, _) = call(
                &client,
                Method::GET,
                &format!("{users_url}/admin/realms/acme{path}"),
                &olga,
                None,
            )
            .await;
            assert!(status == 401 || status == 403, "{name}: {path}: {status}");
            assert!(body.get("errorMessage").is_some(), "{name}: {path}: {body}");
        }

        // Leaving and deleting: the role leaves the token; the subtree goes with its root.
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &membership(&alice, &devs),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let token = password_token(
            &client,
            &gw,
            "acme",
            "admin-cli",
            "alice",
            "Passw0rd-for-tests",
        )
        .await;
        assert!(
            !realm_roles_in(&token).contains(&"reader".to_owned()),
            "{name}"
        );
        let (status, _, _) = call(
            &client,
            Method::DELETE,
            &roles_url,
            &admin,
            Some(json!([{"name": "reader"}])),
        )
        .await;
        assert_eq!(status, 204, "{name}");
        let (_, held, _) = call(&client, Method::GET, &roles_url, &admin, None).await;
        assert_eq!(held, json!([]), "{name}");
        let (status, _, _) = call(&client, Method::DELETE, &group_url(&staff), &admin, None).await;
        assert_eq!(status, 204, "{name}");
        for gone in [&staff, &devs, &ops, &juniors] {
            let (status, _, _) = call(&client, Method::GET, &group_url(gone), &admin, None).await;
            assert_eq!(status, 404, "{name}");
        }
        let (status, _, _) = call(&client, Method::DELETE, &group_url(&staff), &admin, None).await;
        assert_eq!(status, 404, "{name}");
        let (_, list, _) = call(&client, Method::GET, &at("/groups"), &admin, None).await;
        assert_eq!(names(&list, "id"), [top_devs.as_str()], "{name}");

        platform.stop().await;
    }
}
