//! On PostgreSQL the backfill builds most metadata in SQL from
//! `Dialect::postgres_canonical_timestamp`; the rest in Rust from `Timestamp::parse` (on SQLite,
//! Rust judges every row, inside SQLite). Both must agree byte for byte wherever SQL answers, and
//! SQL must answer for the forms AICO writes — over thousands of valid and invalid timestamps,
//! including the near misses AICO's reader must never be handed (years 0 and 10000 after an
//! offset, second 60, fractions finer than Python's microseconds).

use aico_ams::sql::dialect::StoreDialect;
use aico_connect::dialect::Dialect;
use aico_tests::{TestDb, exec, insert_texts, near_miss_timestamps};
use entity::values::Timestamp;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// Timestamps built from parts that are valid, at the edge, or just past it; a deterministic
/// pseudo-random sample of their combinations, and some that are no timestamp at all.
fn samples() -> Vec<String> {
    let years = ["0000", "0001", "1900", "1999", "2000", "2023", "2024", "2025", "2100", "9999"];
    let months = ["00", "01", "02", "04", "06", "09", "11", "12", "13"];
    let days = ["00", "01", "09", "28", "29", "30", "31", "32"];
    let hours = ["00", "09", "23", "24"];
    let minutes = ["00", "59", "60"];
    let seconds = ["00", "30", "59", "60"];
    let seps = [" ", "T", "t"];
    let fractions = [
        "",
        "",
        "",
        ".",
        ".0",
        ".000",
        ".5",
        ".50",
        ".123",
        ".120",
        ".100000",
        ".123456",
        ".123000",
        ".000001",
        ".000000",
        ".123456789",
        ".100000000",
        ".000000001",
        ".1234567891",
        ".0000000000",
        ".12a",
    ];
    let suffixes = ["", "", "Z", "Z", "z", "+00:00", "+02:00", "-05:30", "+14:00", "-14:59", "+15:00", " ", "ZZ", "Z "];
    let prefixes = ["", "", "", "", " "];
    let mut state: u64 = 0x5EED;
    let mut pick = |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % n as u64) as usize
    };
    let mut out: Vec<String> = (0..20_000)
        .map(|_| {
            format!(
                "{}{}-{}-{}{}{}:{}:{}{}{}",
                prefixes[pick(prefixes.len())],
                years[pick(years.len())],
                months[pick(months.len())],
                days[pick(days.len())],
                seps[pick(seps.len())],
                hours[pick(hours.len())],
                minutes[pick(minutes.len())],
                seconds[pick(seconds.len())],
                fractions[pick(fractions.len())],
                suffixes[pick(suffixes.len())],
            )
        })
        .collect();
    out.extend(
        [
            "",
            "yesterday",
            "2025-11-07",
            "2025-11-07 18:00",
            "2025-11-07 18:00:00",
            "2025-11-07T18:00:00Z",
            "2025-11-07T18:00:00",
            "2025-11-07T18:00:00.123456",
            "2024-02-29 12:00:00",
            "2025-02-29 12:00:00",
            "1900-02-29 12:00:00",
            "2000-02-29 12:00:00",
            "2025-11-07  18:00:00",
            "20251107T180000Z",
            "2025-1-07 18:00:00",
            "+2025-11-07T18:00:00Z",
            "2025-11-07T18:00:00.Z",
            "２０２５-11-07 18:00:00",
            // The examples, and the ends of the range after conversion to UTC.
            "0000-12-01T00:59:00.123456789Z",
            "0999-01-29T00:00:60.123456789Z",
            "0000-12-31T18:30:59-05:30",
            "0001-01-01T00:00:00+00:01",
            "0001-01-01T00:00:00",
            "0001-01-01T13:59:59.999999+14:00",
            "0000-12-31T10:00:00-14:00",
            "9999-12-31T23:59:59.999999Z",
            "9999-12-31T23:59:59.9999999999Z",
            "9999-12-31 23:59:59.999999999",
            "9999-12-31T23:59:59-00:01",
            "9999-12-31T10:00:00-14:00",
            "10000-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31 23:59:60.999999",
            "2025-11-07T18:00:00.1234567",
            "2025-11-07T18:00:00.000000999Z",
        ]
        .map(str::to_owned),
    );
    out.extend(near_miss_timestamps(30_000, 0x14));
    out
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.f{1,9}][Z|±HH:MM]`: the forms AICO, Python and SQLite write, which SQL
/// answers by itself whenever Rust reads them — with an offset only up to 14 hours and from year
/// 2 to 9998 (nearer the ends, Rust alone decides whether the instant is still in range).
fn plain(text: &str) -> bool {
    let digits = |b: &[u8]| b.iter().all(u8::is_ascii_digit);
    let bytes = text.as_bytes();
    let (body, offset_ok) = match bytes {
        [body @ .., b'Z'] => (body, true),
        [body @ .., b'+' | b'-', h1, h2, b':', m1, m2] if digits(&[*h1, *h2, *m1, *m2]) => {
            let year: u32 = text.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
            let hours = (h1 - b'0') * 10 + (h2 - b'0');
            let minutes = (m1 - b'0') * 10 + (m2 - b'0');
            (body, hours <= 14 && minutes < 60 && (2..=9998).contains(&year))
        }
        body => (body, true),
    };
    let shape = b"dddd-dd-dd?dd:dd:dd";
    offset_ok
        && body.len() >= shape.len()
        && shape.iter().zip(body).all(|(s, c)| match s {
            b'd' => c.is_ascii_digit(),
            b'?' => *c == b' ' || *c == b'T',
            _ => s == c,
        })
        && match &body[shape.len()..] {
            [] => true,
            [b'.', fraction @ ..] => (1..=9).contains(&fraction.len()) && digits(fraction),
            _ => false,
        }
}

/// Every sample with what SQL made of it (None: NULL, left to Rust).
async fn canonical_of(conn: &DatabaseConnection, texts: &[String]) -> Vec<(String, Option<String>)> {
    exec(conn, "CREATE TABLE samples (i INTEGER PRIMARY KEY, s TEXT)").await;
    insert_texts(conn, "INSERT INTO samples (i, s) VALUES", texts, |i, s| format!("({i}, {s})")).await;
    let sql = format!("SELECT s, {} AS c FROM samples ORDER BY i", Dialect::postgres_canonical_timestamp("s", "text"));
    rows(conn, &sql).await
}

async fn rows(conn: &DatabaseConnection, sql: &str) -> Vec<(String, Option<String>)> {
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| (row.try_get_by_index::<String>(0).expect("s"), row.try_get_by_index(1).expect("c")))
        .collect()
}

/// SQL's answers agree with Rust's wherever SQL answers; returns how many it answered.
fn agree(name: &str, answers: &[(String, Option<String>)]) -> usize {
    let mut answered = 0;
    for (text, sql) in answers {
        let rust = Timestamp::parse(text).ok().map(|t| t.to_rfc3339());
        if let Some(sql) = sql {
            answered += 1;
            assert_eq!(Some(sql), rust.as_ref(), "{name}: {text:?}: SQL and Rust disagree");
        }
    }
    answered
}

/// SQL and Rust agree on every sample on `db`, and SQL answers every plain one that Rust reads.
async fn sql_and_rust_write_the_same_timestamp_text(db: TestDb) {
    let texts = samples();
    let rust_reads = texts.iter().filter(|t| Timestamp::parse(t).is_ok()).count();
    let conn = db.connect().await;
    let answers = canonical_of(&conn, &texts).await;
    assert_eq!(answers.len(), texts.len());
    let answered = agree(db.name, &answers);
    // SQL must carry the load: every canonical form AICO and SQLite write is answered.
    let mut plain_and_read = 0;
    for (text, sql) in &answers {
        if plain(text) && Timestamp::parse(text).is_ok() {
            plain_and_read += 1;
            assert!(sql.is_some(), "{}: {text:?} is plain and valid but SQL left it to Rust", db.name);
        }
    }
    assert!(answered > 500 && answered < rust_reads, "{}: SQL answered {answered} of {rust_reads}", db.name);
    assert_eq!(answered, plain_and_read, "{}: SQL answers exactly the plain texts that Rust reads", db.name);
    // What SQL writes never holds what AICO's reader rejects (checked with Python itself in
    // `python_reads_every_timestamp`): no year 0, no second 60, at most 6 fraction digits.
    for (text, sql) in answers.iter().filter_map(|(t, s)| s.as_ref().map(|s| (t, s))) {
        let fraction = sql.trim_end_matches('Z').split_once('.').map_or(0, |(_, f)| f.len());
        assert!(
            !sql.starts_with("0000") && &sql[17..19] != "60" && [0, 3, 6].contains(&fraction),
            "{}: {text:?} written as {sql:?}",
            db.name
        );
    }
}

#[tokio::test]
async fn postgres_and_rust_write_the_same_timestamp_text() {
    let Some(db) = TestDb::postgres().await else { return };
    sql_and_rust_write_the_same_timestamp_text(db).await;
}

#[tokio::test]
async fn sql_and_rust_agree_on_typed_postgres_timestamps() {
    let Some(db) = TestDb::postgres().await else { return };
    let conn = db.connect().await;
    let dialect = Dialect::Postgres;
    exec(&conn, "CREATE TABLE typed (i INTEGER PRIMARY KEY, t timestamp, tz timestamptz)").await;
    exec(
        &conn,
        "INSERT INTO typed (i, t, tz) SELECT i, \
            timestamp '2025-01-01' + i * interval '1 hour 7 minutes' + (i % 5) * (i * interval '0.001 second') \
                + (i % 3) * (i * interval '0.000001 second'), \
            timestamptz '2025-01-01 00:00:00+05:30' + i * interval '13 minutes 1 second' \
                + (i % 4) * (i * interval '0.01 second') \
         FROM generate_series(1, 3000) AS s(i)",
    )
    .await;
    exec(
        &conn,
        "INSERT INTO typed (i, t, tz) VALUES (-1, '0001-01-01 00:00:00', '0001-01-01 00:00:00+00'), \
         (-2, '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00'), (-3, 'infinity', '-infinity'), \
         (-4, '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00+00 BC'), (-5, NULL, NULL)",
    )
    .await;
    for (column, declared) in [("t", "timestamp without time zone"), ("tz", "timestamp with time zone")] {
        let sql = format!(
            "SELECT COALESCE({}, 'NULL'), {} FROM typed ORDER BY i",
            dialect.timestamp_text(column, declared),
            Dialect::postgres_canonical_timestamp(column, declared)
        );
        let answers = rows(&conn, &sql).await;
        let bc = answers.iter().find(|(text, _)| text.starts_with("0044-03-15")).expect("the BC row");
        assert!(bc.0.ends_with(" BC") && Timestamp::parse(&bc.0).is_err(), "{column}: {bc:?} read as a year AD");
        let answered = agree(column, &answers);
        assert_eq!(answered, 3002, "{column}: every value from year 1 to 9999 is answered by SQL");
    }
}
