//! The time-to-first-call funnel, on the admin's dashboard: of the people
//! who signed up in a window, how many made a key and how many made a
//! successful call, and the median time each step took. The portal's
//! headline metric, measured where it happens.

use rusqlite::Connection;

/// The funnel over accounts created since a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Funnel {
    /// Accounts created in the window.
    pub signed_up: usize,
    /// Of those, accounts with a key.
    pub with_key: usize,
    /// Of those, accounts whose apps had a 2xx answer.
    pub with_call: usize,
    /// Median seconds from sign-up to the first key.
    pub median_to_key_secs: Option<f64>,
    /// Median seconds from sign-up to the first successful call.
    pub median_to_call_secs: Option<f64>,
}

/// The funnel of accounts created at or after `since_ms`.
pub fn funnel(conn: &Connection, since_ms: i64) -> rusqlite::Result<Funnel> {
    let mut statement = conn.prepare(
        "SELECT CAST(round((julianday(u.created_at) - 2440587.5) * 86400000) AS INTEGER),
                (SELECT min(k.created_at) * 1000 FROM api_keys k JOIN apps a ON a.id = k.app_id
                  WHERE a.owner_id = u.id),
                (SELECT min(a.first_call_at) FROM apps a WHERE a.owner_id = u.id)
         FROM users u",
    )?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, Option<i64>>(2)?,
        ))
    })?;
    let mut to_key = Vec::new();
    let mut to_call = Vec::new();
    let mut signed_up = 0;
    for row in rows {
        let (joined, key, call) = row?;
        if joined < since_ms {
            continue;
        }
        signed_up += 1;
        if let Some(key) = key {
            to_key.push((key - joined).max(0) as f64 / 1000.0);
        }
        if let Some(call) = call {
            to_call.push((call - joined).max(0) as f64 / 1000.0);
        }
    }
    Ok(Funnel {
        signed_up,
        with_key: to_key.len(),
        with_call: to_call.len(),
        median_to_key_secs: median(&mut to_key),
        median_to_call_secs: median(&mut to_call),
    })
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// A duration for people: `42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`.
pub fn human_duration(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_funnel_counts_each_step_and_its_median() {
        let dir = tempfile::tempdir().unwrap();
        let db = portico_catalog::Database::open(&dir.path().join("p.db")).unwrap();
        let conn = db.conn();
        // Three people signed up at 00:00:00 on 1 Nov 2026; one made a key
        // after 30 s and called after 50 s, one made a key after 90 s, one did nothing.
        conn.execute_batch(
            "INSERT INTO users (id, username, created_at) VALUES
                 (1, 'a', '2026-11-01T00:00:00.000Z'), (2, 'b', '2026-11-01T00:00:00.000Z'),
                 (3, 'c', '2026-11-01T00:00:00.000Z'), (4, 'old', '2020-01-01T00:00:00.000Z');
             INSERT INTO apps (id, owner_id, name, first_call_at) VALUES
                 (1, 1, 'x', 1793491250000), (2, 2, 'y', NULL);
             INSERT INTO api_keys (app_id, name, environment, prefix, hash, created_at) VALUES
                 (1, 'k', 'sandbox', 'p1', x'00', 1793491230), (2, 'k', 'sandbox', 'p2', x'00', 1793491290);",
        )
        .unwrap();
        let since = 1_793_491_200_000 - 1;
        let f = funnel(&conn, since).unwrap();
        assert_eq!((f.signed_up, f.with_key, f.with_call), (3, 2, 1));
        assert_eq!(f.median_to_key_secs, Some(60.0));
        assert_eq!(f.median_to_call_secs, Some(50.0));
        assert_eq!(human_duration(50.0), "50 s");
        assert_eq!(human_duration(185.0), "3 min 5 s");
        assert_eq!(human_duration(7800.0), "2 h 10 min");
    }
}
