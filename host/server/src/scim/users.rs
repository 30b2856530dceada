//! `/scim/v2/Users`: SCIM accounts in the `users` table (`source = 'scim'`),
//! with `name` and `emails` kept as JSON next to the columns the portal reads
//! (the primary email goes to `email`). Deactivating (`active: false`) or
//! deleting an account deprovisions it at once ([`users::deprovision`]).

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

use super::filter::get as field;
use super::patch::PatchRequest;
use super::{
    ListQuery, ScimError, Selection, USER_SCHEMA, base_url, blocking, check_if_match, etag, new_id,
    parse_body, record, resource_response,
};
use crate::identity::{Caller, users};
use crate::state::AppState;

type Params = Query<Vec<(String, String)>>;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list).post(create))
        .route("/Users/.search", post(search))
        .route(
            "/Users/{id}",
            get(read).put(replace).patch(modify).delete(remove),
        )
}

/// What a client may write; everything else is read-only or unknown and ignored.
#[derive(Debug)]
struct UserInput {
    user_name: String,
    display_name: String,
    /// None: unassigned; a new account is active, a stored one keeps its state.
    active: Option<bool>,
    external_id: Option<String>,
    /// `name` and `emails`, as stored.
    attributes: Map<String, Value>,
    primary_email: String,
}

const NAME_PARTS: &[&str] = &[
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
const EMAIL_PARTS: &[&str] = &["value", "type", "primary", "display"];

fn text(value: Option<&Value>, what: &str) -> Result<Option<String>, ScimError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::invalid_value(format!(
            "`{what}` must be a string"
        ))),
    }
}

/// The sub-attributes of a complex value, named as the schema spells them.
fn complex(value: &Value, parts: &[&str], what: &str) -> Result<Map<String, Value>, ScimError> {
    if !value.is_object() {
        return Err(ScimError::invalid_value(format!(
            "`{what}` must be an object"
        )));
    }
    let mut out = Map::new();
    for part in parts {
        match field(value, part) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Bool(_)) if *part == "primary" => {
                out.insert((*part).to_owned(), v.clone());
            }
            Some(v @ Value::String(_)) if *part != "primary" => {
                out.insert((*part).to_owned(), v.clone());
            }
            Some(_) => {
                return Err(ScimError::invalid_value(format!(
                    "`{what}.{part}` has the wrong type"
                )));
            }
        }
    }
    Ok(out)
}

fn parse_user(body: &Value) -> Result<UserInput, ScimError> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax("a User is a JSON object"));
    }
    if let Some(schemas) = field(body, "schemas")
        && !schemas
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s == USER_SCHEMA))
    {
        return Err(ScimError::invalid_syntax(format!(
            "`schemas` must include {USER_SCHEMA}"
        )));
    }
    let user_name = text(field(body, "userName"), "userName")?
        .ok_or_else(|| ScimError::invalid_value("`userName` is required"))?;
    users::check_username(&user_name).map_err(|e| ScimError::invalid_value(e.to_string()))?;
    let active = match field(body, "active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        // Some identity providers send booleans as strings.
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => return Err(ScimError::invalid_value("`active` must be true or false")),
    };
    let mut attributes = Map::new();
    if let Some(active) = active {
        // Stored as given, so an unassigned `active` reads back unassigned.
        attributes.insert("active".into(), active.into());
    }
    if let Some(name) = field(body, "name").filter(|v| !v.is_null()) {
        let name = complex(name, NAME_PARTS, "name")?;
        if !name.is_empty() {
            attributes.insert("name".into(), Value::Object(name));
        }
    }
    let mut primary_email = String::new();
    match field(body, "emails") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let emails = items
                .iter()
                .map(|e| complex(e, EMAIL_PARTS, "emails"))
                .collect::<Result<Vec<_>, _>>()?;
            if emails.iter().any(|e| !e.contains_key("value")) {
                return Err(ScimError::invalid_value("every email needs a `value`"));
            }
            let primaries = emails
                .iter()
                .filter(|e| e.get("primary") == Some(&Value::Bool(true)))
                .count();
            if primaries > 1 {
                return Err(ScimError::invalid_value("at most one email is primary"));
            }
            primary_email = emails
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or(emails.first())
                .and_then(|e| e.get("value").and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned();
            if !emails.is_empty() {
                attributes.insert(
                    "emails".into(),
                    Value::Array(emails.into_iter().map(Value::Object).collect()),
                );
            }
        }
        Some(_) => return Err(ScimError::invalid_value("`emails` must be a list")),
    }
    Ok(UserInput {
        user_name,
        display_name: text(field(body, "displayName"), "displayName")?.unwrap_or_default(),
        active,
        external_id: text(field(body, "externalId"), "externalId")?,
        attributes,
        primary_email,
    })
}

const SELECT: &str = "SELECT id, scim_id, username, display_name, active, external_id,
        scim_attributes, created_at, COALESCE(updated_at, created_at), version
    FROM users WHERE source = 'scim'";

/// A stored account as SCIM shows it, with its row id and version.
struct Stored {
    row: i64,
    version: i64,
    resource: Value,
}

fn render(r: &rusqlite::Row<'_>, groups: &[Value], base: &str) -> rusqlite::Result<Stored> {
    let row: i64 = r.get(0)?;
    let id: String = r.get(1)?;
    let version: i64 = r.get(9)?;
    let attributes: String = r.get(6)?;
    let mut resource = json!({
        "schemas": [USER_SCHEMA],
        "id": id,
        "userName": r.get::<_, String>(2)?,
        "meta": {
            "resourceType": "User",
            "created": r.get::<_, String>(7)?,
            "lastModified": r.get::<_, String>(8)?,
            "location": format!("{base}/Users/{id}"),
            "version": etag(version),
        },
    });
    let display: String = r.get(3)?;
    if !display.is_empty() {
        resource["displayName"] = display.into();
    }
    if let Some(external) = r.get::<_, Option<String>>(5)? {
        resource["externalId"] = external.into();
    }
    if let Ok(Value::Object(stored)) = serde_json::from_str(&attributes) {
        for (k, v) in stored {
            resource[k] = v;
        }
    }
    if !groups.is_empty() {
        resource["groups"] = Value::Array(groups.to_vec());
    }
    Ok(Stored {
        row,
        version,
        resource,
    })
}

/// Each SCIM user's SCIM groups, by user row.
fn groups_by_user(
    conn: &Connection,
    only: Option<i64>,
    base: &str,
) -> rusqlite::Result<HashMap<i64, Vec<Value>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT gm.user_id, g.scim_id, g.name FROM group_members gm
         JOIN groups g ON g.id = gm.group_id
         WHERE g.scim_id IS NOT NULL AND (?1 IS NULL OR gm.user_id = ?1)
         ORDER BY g.name",
    )?;
    let mut by_user: HashMap<i64, Vec<Value>> = HashMap::new();
    let rows = stmt.query_map([only], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (user, id, name) = row?;
        by_user.entry(user).or_default().push(json!({
            "value": id, "display": name, "$ref": format!("{base}/Groups/{id}"), "type": "direct"
        }));
    }
    Ok(by_user)
}

pub(super) fn load_all(conn: &Connection, base: &str) -> rusqlite::Result<Vec<Value>> {
    let groups = groups_by_user(conn, None, base)?;
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY id"))?;
    let rows = stmt.query_map([], |r| {
        let row: i64 = r.get(0)?;
        render(r, groups.get(&row).map_or(&[], Vec::as_slice), base)
    })?;
    rows.map(|s| s.map(|s| s.resource)).collect()
}

fn load(conn: &Connection, id: &str, base: &str) -> Result<Stored, ScimError> {
    let row: Option<i64> = conn
        .query_row(
            "SELECT id FROM users WHERE source = 'scim' AND scim_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let row = row.ok_or_else(|| ScimError::not_found(format!("no User with id `{id}`")))?;
    let groups = groups_by_user(conn, Some(row), base)?;
    let groups = groups.get(&row).map_or(&[][..], Vec::as_slice);
    Ok(
        conn.query_row(&format!("{SELECT} AND id = ?1"), [row], |r| {
            render(r, groups, base)
        })?,
    )
}

fn check_unique(conn: &Connection, name: &str, except: Option<i64>) -> Result<(), ScimError> {
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1 AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )?;
    if taken {
        return Err(ScimError::uniqueness(format!("userName `{name}` is taken")));
    }
    Ok(())
}

/// Writes an account's attributes over a stored one (PUT and PATCH);
/// whether that deprovisioned it.
fn write(conn: &Connection, row: i64, input: &UserInput) -> Result<bool, ScimError> {
    check_unique(conn, &input.user_name, Some(row))?;
    let was_active: bool =
        conn.query_row("SELECT active FROM users WHERE id = ?1", [row], |r| {
            r.get(0)
        })?;
    let active = input.active.unwrap_or(was_active);
    conn.execute(
        "UPDATE users SET username = ?2, display_name = ?3, email = ?4, active = ?5,
             external_id = ?6, scim_attributes = ?7, version = version + 1,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        params![
            row,
            input.user_name,
            input.display_name,
            input.primary_email,
            active,
            input.external_id,
            Value::Object(input.attributes.clone()).to_string()
        ],
    )?;
    if was_active && !active {
        users::deprovision(conn, row)?;
    }
    Ok(was_active && !active)
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, ScimError> {
    let query = ListQuery::from_params(&params)?;
    let base = base_url(&headers);
    let all = blocking(move || Ok(load_all(&state.db().conn(), &base)?)).await?;
    Ok(query.respond(all))
}

/// `POST /.search`: a list query in the body (RFC 7644 §3.4.3).
async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let query = ListQuery::from_search(&parse_body(&body)?)?;
    let base = base_url(&headers);
    let all = blocking(move || Ok(load_all(&state.db().conn(), &base)?)).await?;
    Ok(query.respond(all))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ScimError> {
    let selection = Selection::from_params(&params)?;
    let base = base_url(&headers);
    let stored = blocking(move || load(&state.db().conn(), &id, &base)).await?;
    Ok(resource_response(
        StatusCode::OK,
        &selection.apply(stored.resource),
    ))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let base = base_url(&headers);
    let stored = blocking(move || {
        let result = parse_body(&body).and_then(|body: Value| {
            let input = parse_user(&body)?;
            let role = state
                .config()
                .auth
                .scim
                .as_ref()
                .map(|s| s.default_role.clone());
            let mut conn = state.db().conn();
            let tx = conn.transaction()?;
            check_unique(&tx, &input.user_name, None)?;
            let id = new_id();
            tx.execute(
                "INSERT INTO users (username, source, scim_id, updated_at)
                 VALUES (?1, 'scim', ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                params![input.user_name, id],
            )?;
            let row = tx.last_insert_rowid();
            write(&tx, row, &input)?;
            tx.execute("UPDATE users SET version = 1 WHERE id = ?1", [row])?;
            if let Some(role) = role {
                tx.execute(
                    "INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?1, ?2)",
                    params![row, role],
                )?;
            }
            let stored = load(&tx, &id, &base)?;
            tx.commit()?;
            Ok(stored)
        });
        let target = match &result {
            Ok(s) => format!("user:{}", s.row),
            Err(_) => "user".to_owned(),
        };
        let details = result.as_ref().map_or(
            Value::Null,
            |s| json!({"id": s.resource["id"], "userName": s.resource["userName"]}),
        );
        record(
            &state,
            &caller,
            "scim.user.create",
            &target,
            &result,
            details,
        );
        result
    })
    .await?;
    Ok(resource_response(StatusCode::CREATED, &stored.resource))
}

/// Shared by PUT and PATCH: loads the account, makes the new one from the
/// stored one, writes it in one transaction, and audits the change.
async fn update(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    id: String,
    action: &'static str,
    change: impl FnOnce(Value) -> Result<Value, ScimError> + Send + 'static,
) -> Result<Response, ScimError> {
    let base = base_url(&headers);
    let stored = blocking(move || {
        let mut row = None;
        let mut deprovisioned = false;
        let result = (|| {
            let mut conn = state.db().conn();
            let tx = conn.transaction()?;
            let before = load(&tx, &id, &base)?;
            row = Some(before.row);
            check_if_match(&headers, before.version)?;
            let input = parse_user(&change(before.resource)?)?;
            deprovisioned = write(&tx, before.row, &input)?;
            let after = load(&tx, &id, &base)?;
            tx.commit()?;
            Ok(after)
        })();
        let target = row.map_or_else(|| format!("scim:{id}"), |r| format!("user:{r}"));
        record(
            &state,
            &caller,
            action,
            &target,
            &result,
            json!({ "id": id, "deprovisioned": deprovisioned }),
        );
        result
    })
    .await?;
    Ok(resource_response(StatusCode::OK, &stored.resource))
}

async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    update(state, caller, headers, id, "scim.user.replace", move |_| {
        parse_body(&body)
    })
    .await
}

async fn modify(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let patch: PatchRequest = parse_body(&body)?;
    update(
        state,
        caller,
        headers,
        id,
        "scim.user.patch",
        move |mut user| {
            patch.apply(&mut user)?;
            Ok(user)
        },
    )
    .await
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let base = base_url(&headers);
    blocking(move || {
        let mut row = None;
        let result = (|| {
            let mut conn = state.db().conn();
            let tx = conn.transaction()?;
            let stored = load(&tx, &id, &base)?;
            row = Some(stored.row);
            check_if_match(&headers, stored.version)?;
            users::deprovision(&tx, stored.row)?;
            tx.execute("DELETE FROM users WHERE id = ?1", [stored.row])?;
            tx.commit()?;
            Ok(())
        })();
        let target = row.map_or_else(|| format!("scim:{id}"), |r| format!("user:{r}"));
        record(
            &state,
            &caller,
            "scim.user.delete",
            &target,
            &result,
            json!({ "id": id }),
        );
        result
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_user_input_is_read_case_insensitively_and_checked() {
        let input = parse_user(&json!({
            "schemas": [USER_SCHEMA], "USERNAME": "ada", "active": "False",
            "name": {"GivenName": "Ada", "unknown": 1},
            "emails": [{"value": "a@x", "type": "home"}, {"value": "b@x", "primary": true}],
            "id": "ignored", "meta": {"created": "ignored"}
        }))
        .unwrap();
        assert_eq!(input.user_name, "ada");
        assert_eq!(input.active, Some(false));
        assert_eq!(input.primary_email, "b@x");
        assert_eq!(input.attributes["name"], json!({"givenName": "Ada"}));
        for (bad, why) in [
            (json!({"active": true}), "userName"),
            (json!({"userName": "a b"}), "not a valid username"),
            (json!({"userName": "a", "schemas": ["urn:x"]}), "schemas"),
            (
                json!({"userName": "a", "emails": [{"type": "work"}]}),
                "value",
            ),
            (
                json!({"userName": "a", "emails": [{"value": "x", "primary": true}, {"value": "y", "primary": true}]}),
                "primary",
            ),
            (json!({"userName": "a", "active": 3}), "active"),
        ] {
            let err = parse_user(&bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
