//! `/scim/v2/Groups`: SCIM groups in the `groups` table (those with a
//! `scim_id`), their members in `group_members`. Members are SCIM users; a
//! group's other members (added by single sign-on) are neither shown nor
//! touched here. A group's `displayName` is its portal name, unique.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::filter::get as field;
use super::patch::PatchRequest;
use super::{
    GROUP_SCHEMA, ListQuery, ScimError, Selection, base_url, blocking, check_if_match, etag,
    new_id, parse_body, record, resource_response,
};
use crate::identity::Caller;
use crate::state::AppState;

type Params = Query<Vec<(String, String)>>;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/Groups", get(list).post(create))
        .route("/Groups/.search", post(search))
        .route(
            "/Groups/{id}",
            get(read).put(replace).patch(modify).delete(remove),
        )
}

/// What a client may write.
struct GroupInput {
    display_name: String,
    external_id: Option<String>,
    /// The SCIM ids of the member users.
    members: Vec<String>,
}

fn parse_group(body: &Value) -> Result<GroupInput, ScimError> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax("a Group is a JSON object"));
    }
    if let Some(schemas) = field(body, "schemas")
        && !schemas
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s == GROUP_SCHEMA))
    {
        return Err(ScimError::invalid_syntax(format!(
            "`schemas` must include {GROUP_SCHEMA}"
        )));
    }
    let display_name = match field(body, "displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 256 => s.clone(),
        _ => {
            return Err(ScimError::invalid_value(
                "`displayName` is required: 1 to 256 characters",
            ));
        }
    };
    let external_id = match field(body, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ScimError::invalid_value("`externalId` must be a string")),
    };
    let mut members = Vec::new();
    match field(body, "members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let Some(Value::String(id)) = field(item, "value") else {
                    return Err(ScimError::invalid_value(
                        "every member needs a `value`: the id of a User",
                    ));
                };
                if !members.contains(id) {
                    members.push(id.clone());
                }
            }
        }
        Some(_) => return Err(ScimError::invalid_value("`members` must be a list")),
    }
    Ok(GroupInput {
        display_name,
        external_id,
        members,
    })
}

struct Stored {
    row: i64,
    version: i64,
    resource: Value,
}

fn members(conn: &Connection, group: i64, base: &str) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.scim_id FROM group_members gm
         JOIN users u ON u.id = gm.user_id
         WHERE gm.group_id = ?1 AND u.source = 'scim' ORDER BY u.username",
    )?;
    let rows = stmt.query_map([group], |r| {
        // A member is its id and URL; its names are the User's own.
        let id: String = r.get(0)?;
        Ok(json!({ "value": id, "$ref": format!("{base}/Users/{id}") }))
    })?;
    rows.collect()
}

const SELECT: &str = "SELECT id, scim_id, name, external_id, created_at,
        COALESCE(updated_at, created_at), version FROM groups WHERE scim_id IS NOT NULL";

fn render(conn: &Connection, r: &rusqlite::Row<'_>, base: &str) -> rusqlite::Result<Stored> {
    let row: i64 = r.get(0)?;
    let id: String = r.get(1)?;
    let version: i64 = r.get(6)?;
    let mut resource = json!({
        "schemas": [GROUP_SCHEMA],
        "id": id,
        "displayName": r.get::<_, String>(2)?,
        "meta": {
            "resourceType": "Group",
            "created": r.get::<_, String>(4)?,
            "lastModified": r.get::<_, String>(5)?,
            "location": format!("{base}/Groups/{id}"),
            "version": etag(version),
        },
    });
    if let Some(external) = r.get::<_, Option<String>>(3)? {
        resource["externalId"] = external.into();
    }
    let members = members(conn, row, base)?;
    if !members.is_empty() {
        resource["members"] = Value::Array(members);
    }
    Ok(Stored {
        row,
        version,
        resource,
    })
}

pub(super) fn load_all(conn: &Connection, base: &str) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY id"))?;
    let rows = stmt.query_map([], |r| render(conn, r, base).map(|s| s.resource))?;
    rows.collect()
}

fn load(conn: &Connection, id: &str, base: &str) -> Result<Stored, ScimError> {
    conn.query_row(&format!("{SELECT} AND scim_id = ?1"), [id], |r| {
        render(conn, r, base)
    })
    .optional()?
    .ok_or_else(|| ScimError::not_found(format!("no Group with id `{id}`")))
}

/// Writes a group's attributes and members over a stored one.
fn write(conn: &Connection, row: i64, input: &GroupInput) -> Result<(), ScimError> {
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM groups WHERE name = ?1 AND id <> ?2)",
        params![input.display_name, row],
        |r| r.get(0),
    )?;
    if taken {
        return Err(ScimError::uniqueness(format!(
            "a group named `{}` exists",
            input.display_name
        )));
    }
    conn.execute(
        "UPDATE groups SET name = ?2, display_name = ?2, external_id = ?3,
             version = version + 1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ?1",
        params![row, input.display_name, input.external_id],
    )?;
    conn.execute(
        "DELETE FROM group_members WHERE group_id = ?1
           AND user_id IN (SELECT id FROM users WHERE source = 'scim')",
        [row],
    )?;
    for member in &input.members {
        let added = conn.execute(
            "INSERT OR IGNORE INTO group_members (group_id, user_id)
             SELECT ?1, id FROM users WHERE source = 'scim' AND scim_id = ?2",
            params![row, member],
        )?;
        let exists: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE source = 'scim' AND scim_id = ?1)",
            [member],
            |r| r.get(0),
        )?;
        if added == 0 && !exists {
            return Err(ScimError::invalid_value(format!(
                "member `{member}` is not the id of a User"
            )));
        }
    }
    Ok(())
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
            let input = parse_group(&body)?;
            let mut conn = state.db().conn();
            let tx = conn.transaction()?;
            let id = new_id();
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM groups WHERE name = ?1)",
                [&input.display_name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(ScimError::uniqueness(format!(
                    "a group named `{}` exists",
                    input.display_name
                )));
            }
            tx.execute(
                "INSERT INTO groups (name, scim_id) VALUES (?1, ?2)",
                params![input.display_name, id],
            )?;
            let row = tx.last_insert_rowid();
            write(&tx, row, &input)?;
            tx.execute("UPDATE groups SET version = 1 WHERE id = ?1", [row])?;
            let stored = load(&tx, &id, &base)?;
            tx.commit()?;
            Ok(stored)
        });
        let target = match &result {
            Ok(s) => format!("group:{}", s.row),
            Err(_) => "group".to_owned(),
        };
        let details = result.as_ref().map_or(
            Value::Null,
            |s| json!({"id": s.resource["id"], "displayName": s.resource["displayName"]}),
        );
        record(
            &state,
            &caller,
            "scim.group.create",
            &target,
            &result,
            details,
        );
        result
    })
    .await?;
    Ok(resource_response(StatusCode::CREATED, &stored.resource))
}

/// Shared by PUT and PATCH, as for users.
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
        let result = (|| {
            let mut conn = state.db().conn();
            let tx = conn.transaction()?;
            let before = load(&tx, &id, &base)?;
            row = Some(before.row);
            check_if_match(&headers, before.version)?;
            let input = parse_group(&change(before.resource)?)?;
            write(&tx, before.row, &input)?;
            let after = load(&tx, &id, &base)?;
            tx.commit()?;
            Ok(after)
        })();
        let target = row.map_or_else(|| format!("scim:{id}"), |r| format!("group:{r}"));
        record(
            &state,
            &caller,
            action,
            &target,
            &result,
            json!({ "id": id }),
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
    update(
        state,
        caller,
        headers,
        id,
        "scim.group.replace",
        move |_| parse_body(&body),
    )
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
        "scim.group.patch",
        move |mut group| {
            patch.apply(&mut group)?;
            Ok(group)
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
            tx.execute("DELETE FROM groups WHERE id = ?1", [stored.row])?;
            tx.commit()?;
            Ok(())
        })();
        let target = row.map_or_else(|| format!("scim:{id}"), |r| format!("group:{r}"));
        record(
            &state,
            &caller,
            "scim.group.delete",
            &target,
            &result,
            json!({ "id": id }),
        );
        result
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
