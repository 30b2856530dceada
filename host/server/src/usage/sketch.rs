//! A mergeable latency sketch (the DDSketch idea): latencies fall into
//! logarithmic buckets 2 % wide, so any quantile read back is within 1 % of
//! the true value, and two sketches merge by adding bucket counts. Roll-ups
//! keep one per row, so the p99 of a week is read from the merged hours,
//! never averaged from their p99s.
//!
//! Stored as a compact blob: a version byte, the count of zero latencies,
//! then (bucket index delta, count) pairs as LEB128 varints.

/// The relative accuracy of every quantile.
const ACCURACY: f64 = 0.01;
/// The blob format's version.
const FORMAT: u8 = 1;
/// Bucket indices kept, at most: 2 % buckets from 1 µs span about 28 hours.
const MAX_INDEX: i64 = 5_000;

/// Bucket base: a value `v` falls in bucket `ceil(log_gamma(v))`.
fn gamma() -> f64 {
    (1.0 + ACCURACY) / (1.0 - ACCURACY)
}

/// Latencies in microseconds, as bucket counts: dense, from the lowest
/// bucket used, so that merging thousands of sketches (a week of hours) is
/// adding arrays.
#[derive(Debug, Clone, Default)]
pub struct LatencySketch {
    zeros: u64,
    /// The bucket index of `counts[0]`.
    offset: i32,
    counts: Vec<u64>,
}

/// A blob that is no sketch.
#[derive(Debug, thiserror::Error)]
#[error("not a latency sketch: {0}")]
pub struct SketchError(&'static str);

impl PartialEq for LatencySketch {
    /// The same counts, however the arrays were laid out.
    fn eq(&self, other: &Self) -> bool {
        self.zeros == other.zeros && self.buckets().eq(other.buckets())
    }
}

impl Eq for LatencySketch {}

impl LatencySketch {
    /// Counts `count` calls that each took `micros`.
    pub fn add(&mut self, micros: f64, count: u64) {
        if count == 0 {
            return;
        }
        if !micros.is_finite() || micros < 1.0 {
            self.zeros += count;
            return;
        }
        let index = (micros.ln() / gamma().ln()).ceil().min(MAX_INDEX as f64) as i32;
        self.add_at(index, count);
    }

    /// Adds `count` to the bucket `index`, growing the array to hold it.
    fn add_at(&mut self, index: i32, count: u64) {
        if self.counts.is_empty() {
            self.offset = index;
        } else if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        }
        let at = (index - self.offset) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += count;
    }

    /// The used buckets, lowest first, as (index, count).
    fn buckets(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (self.offset + i as i32, *c))
    }

    /// Adds another sketch's counts to this one.
    pub fn merge(&mut self, other: &LatencySketch) {
        self.zeros += other.zeros;
        for (index, count) in other.buckets() {
            self.add_at(index, count);
        }
    }

    /// Adds the counts of a stored blob, without building a sketch of it.
    pub fn merge_encoded(&mut self, blob: &[u8]) -> Result<(), SketchError> {
        let (&format, mut rest) = blob.split_first().ok_or(SketchError("empty"))?;
        if format != FORMAT {
            return Err(SketchError("unknown format"));
        }
        let zeros = read_varint(&mut rest)?;
        let mut index = 0i64;
        // Checked before anything is added, so a bad blob changes nothing.
        let mut pairs = Vec::new();
        while !rest.is_empty() {
            let zigzag = read_varint(&mut rest)?;
            index += ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
            let count = read_varint(&mut rest)?;
            if !(-MAX_INDEX..=MAX_INDEX).contains(&index) {
                return Err(SketchError("bucket out of range"));
            }
            pairs.push((index as i32, count));
        }
        self.zeros += zeros;
        for (index, count) in pairs {
            self.add_at(index, count);
        }
        Ok(())
    }

    /// How many latencies it holds.
    pub fn count(&self) -> u64 {
        self.zeros + self.counts.iter().sum::<u64>()
    }

    /// The latency at quantile `q` (0 to 1) in microseconds; none when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        // The rank of the value asked for, 0-based, as in DDSketch.
        let rank = (q.clamp(0.0, 1.0) * (total - 1) as f64).floor() as u64;
        if rank < self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        for (index, count) in self.buckets() {
            seen += count;
            if seen > rank {
                let g = gamma();
                return Some(2.0 * g.powi(index) / (g + 1.0));
            }
        }
        None
    }

    /// The blob stored in a roll-up row.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.counts.len() * 3);
        out.push(FORMAT);
        write_varint(&mut out, self.zeros);
        let mut previous = 0i64;
        for (index, count) in self.buckets() {
            let delta = i64::from(index) - previous;
            previous = i64::from(index);
            // Zig-zag, so a negative delta (never written, but be total) reads back.
            write_varint(&mut out, ((delta << 1) ^ (delta >> 63)) as u64);
            write_varint(&mut out, count);
        }
        out
    }

    /// Reads a blob [`encode`](Self::encode) wrote.
    pub fn decode(blob: &[u8]) -> Result<LatencySketch, SketchError> {
        let mut sketch = LatencySketch::default();
        sketch.merge_encoded(blob)?;
        Ok(sketch)
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(input: &mut &[u8]) -> Result<u64, SketchError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first().ok_or(SketchError("truncated"))?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(SketchError("varint too long"))
}

/// The SQL function `sketch_merge(a, b)`, so that a roll-up upsert merges
/// sketches inside SQLite without reading rows back.
pub fn register_sql_merge(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "sketch_merge",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let read = |i| {
                let blob = ctx
                    .get_raw(i)
                    .as_blob()
                    .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e) as Box<_>))?;
                LatencySketch::decode(blob)
                    .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
            };
            let mut merged = read(0)?;
            merged.merge(&read(1)?);
            Ok(merged.encode())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_are_within_one_percent_of_the_exact_ones() {
        // A long-tailed spread: 200 µs to about 2 s.
        let values: Vec<f64> = (0..10_000).map(|i| 200.0 * (1.0009f64).powi(i)).collect();
        let mut sketch = LatencySketch::default();
        for &v in &values {
            sketch.add(v, 1);
        }
        for q in [0.5, 0.95, 0.99, 0.0, 1.0] {
            let exact = exact_quantile(&values, q);
            let read = sketch.quantile(q).unwrap();
            assert!(
                (read - exact).abs() <= exact * ACCURACY,
                "q{q}: {read} vs {exact}"
            );
        }
    }

    #[test]
    fn merged_sketches_answer_like_one_sketch_of_everything() {
        let mut whole = LatencySketch::default();
        let mut parts = [LatencySketch::default(), LatencySketch::default()];
        for i in 0..5000u32 {
            let v = f64::from(i % 977) * 13.0 + 0.5;
            whole.add(v, 1);
            parts[(i % 2) as usize].add(v, 1);
        }
        let mut merged = parts[0].clone();
        merged.merge(&parts[1]);
        assert_eq!(merged, whole);
        assert_eq!(merged.quantile(0.99), whole.quantile(0.99));
    }

    #[test]
    fn the_blob_round_trips_and_rejects_garbage() {
        let mut sketch = LatencySketch::default();
        sketch.add(0.0, 3);
        sketch.add(350.0, 10);
        sketch.add(1_200_000.0, 1);
        let blob = sketch.encode();
        assert!(blob.len() < 16, "{} bytes", blob.len());
        assert_eq!(LatencySketch::decode(&blob).unwrap(), sketch);
        assert!(LatencySketch::decode(&[]).is_err());
        assert!(LatencySketch::decode(&[9, 0]).is_err());
        assert!(LatencySketch::decode(&[FORMAT, 0x80]).is_err());
        assert_eq!(LatencySketch::default().quantile(0.5), None);
        assert_eq!(sketch.quantile(0.0), Some(0.0));
    }

    #[test]
    fn sqlite_merges_sketches_in_an_upsert() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        register_sql_merge(&conn).unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, s BLOB NOT NULL)")
            .unwrap();
        let mut a = LatencySketch::default();
        a.add(100.0, 2);
        let mut b = LatencySketch::default();
        b.add(5000.0, 1);
        for s in [&a, &b] {
            conn.execute(
                "INSERT INTO t VALUES (1, ?1) ON CONFLICT (k) DO UPDATE SET s = sketch_merge(s, excluded.s)",
                [s.encode()],
            )
            .unwrap();
        }
        let blob: Vec<u8> = conn.query_row("SELECT s FROM t", [], |r| r.get(0)).unwrap();
        let mut both = a.clone();
        both.merge(&b);
        assert_eq!(LatencySketch::decode(&blob).unwrap(), both);
    }
}
