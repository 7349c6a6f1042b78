//! Facts shaped like a real AICO user's, for benchmarks and tests that care about the data's shape:
//! uuid4 keys in random order (so key order is not storage order), rows of about 300 bytes over
//! a dozen columns, and `created_at` in the mix of forms a database that several writers and
//! versions have touched holds.
//!
//! The mix, by share of rows ([`Timestamps::Aico`]): 30% RFC 3339 with `Z`; 15% with a UTC
//! offset; 20% naive ISO (`T`, no zone); 20% SQLite's `YYYY-MM-DD HH:MM:SS`; 12% with
//! microseconds (Python's `isoformat()`, naive or `+00:00`); 3% NULL or unreadable. Which form a
//! row gets follows from its position, so every copy of a table holds the same counts.

use sea_orm::{DatabaseConnection, DbBackend};

use crate::exec;

/// One form of `created_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `2025-01-01T10:00:00Z`.
    Zulu,
    /// `2025-01-01T12:00:00+02:00` (offsets of several signs and sizes).
    Offset,
    /// `2025-01-01T10:00:00`.
    NaiveT,
    /// `2025-01-01 10:00:00`.
    Space,
    /// `2025-01-01T10:00:00.123456`, or with `+00:00`.
    Micros,
    /// NULL, `yesterday`, or 30 February.
    Bad,
}

impl Form {
    /// The forms with their share of rows in percent, in the order [`Timestamps::Aico`] deals them.
    pub const AICO_MIX: [(Form, u64); 6] = [
        (Form::Zulu, 30),
        (Form::Offset, 15),
        (Form::NaiveT, 20),
        (Form::Space, 20),
        (Form::Micros, 12),
        (Form::Bad, 3),
    ];
}

/// The `created_at` values of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timestamps {
    /// The mix above.
    Aico,
    /// Every row in one form.
    All(Form),
}

/// The keys of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// Random uuid4 text, as AICO's `fact_id`: key order is unrelated to storage order.
    Uuid4,
    /// `fact-00000001`, ...: key order is storage order.
    Ordered,
}

/// Which facts table to fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The seed's `semantic_facts`, created here with a dozen columns (no `temporal_metadata`:
    /// the migrations add it).
    Seed,
    /// AICO's `user_memories`, which must exist (see [`crate::aico::build`]); its user is
    /// [`crate::aico::USER`].
    Aico,
}

/// How many of `n` facts get `form` under `timestamps`.
pub fn count_of(timestamps: Timestamps, form: Form, n: u64) -> u64 {
    match timestamps {
        Timestamps::All(f) => {
            if f == form {
                n
            } else {
                0
            }
        }
        Timestamps::Aico => {
            let mut from = 0;
            for (f, share) in Form::AICO_MIX {
                if f == form {
                    // Rows 1..=n; row i's bucket is i % 100.
                    return (1..=n).filter(|i| (from..from + share).contains(&(i % 100))).count() as u64;
                }
                from += share;
            }
            0
        }
    }
}

/// Insert `n` facts into `table` on `db` (SQLite or PostgreSQL; [`Table::Aico`] on SQLite only),
/// in one statement.
pub async fn fill(db: &DatabaseConnection, table: Table, n: u64, keys: Keys, timestamps: Timestamps) {
    let pg = db.get_database_backend() == DbBackend::Postgres;
    if table == Table::Seed {
        exec(
            db,
            "CREATE TABLE semantic_facts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, fact_type TEXT NOT NULL, \
             category TEXT NOT NULL, confidence REAL NOT NULL, content TEXT NOT NULL, entities_json TEXT, \
             source_conversation_id TEXT NOT NULL, created_at TEXT, updated_at TEXT, extra_notes TEXT)",
        )
        .await;
    }
    let series = if pg {
        format!("SELECT i FROM generate_series(1, {n}) AS s(i)")
    } else {
        format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s")
    };
    // `expr`, a non-negative integer, as text of at least `width` digits.
    let pad = |expr: &str, width: u8| {
        if pg { format!("lpad(({expr})::text, {width}, '0')") } else { format!("printf('%0{width}d', {expr})") }
    };
    let key = match (keys, pg) {
        (Keys::Uuid4, true) => "gen_random_uuid()::text".to_owned(),
        (Keys::Uuid4, false) => "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
             substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || \
             substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
            .to_owned(),
        (Keys::Ordered, _) => format!("'fact-' || {}", pad("i", 8)),
    };
    // The instant: a fact every 30 seconds from 2025-01-01, local time for offsets.
    let (at, at_local) = if pg {
        (
            "(timestamp '2025-01-01' + i * interval '30 seconds')".to_owned(),
            "(timestamp '2025-01-01' + i * interval '30 seconds' + (o * interval '1 minute'))".to_owned(),
        )
    } else {
        (
            "'2025-01-01', printf('%+d seconds', i * 30)".to_owned(),
            "'2025-01-01', printf('%+d seconds', i * 30 + o * 60)".to_owned(),
        )
    };
    let fmt = |f: &str, when: &str| {
        if pg {
            let f = f.replace('T', "\"T\"").replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD");
            let f = f.replace("%H", "HH24").replace("%M", "MI").replace("%S", "SS");
            format!("to_char({when}, '{f}')")
        } else {
            format!("strftime('{f}', {when})")
        }
    };
    let offset_text = format!(
        "(CASE WHEN o < 0 THEN '-' ELSE '+' END || {} || ':' || {})",
        pad("abs(o) / 60", 2),
        pad("abs(o) % 60", 2)
    );
    // i * 7919 passes PostgreSQL's 32-bit integers from i = 271,182.
    let micros = pad(if pg { "(i::bigint * 7919) % 1000000" } else { "(i * 7919) % 1000000" }, 6);
    let form_sql = |form: Form| match form {
        Form::Zulu => fmt("%Y-%m-%dT%H:%M:%SZ", &at),
        Form::Offset => format!("{} || {offset_text}", fmt("%Y-%m-%dT%H:%M:%S", &at_local)),
        Form::NaiveT => fmt("%Y-%m-%dT%H:%M:%S", &at),
        Form::Space => fmt("%Y-%m-%d %H:%M:%S", &at),
        Form::Micros => format!(
            "{} || '.' || {micros} || CASE WHEN i % 2 = 0 THEN '' ELSE '+00:00' END",
            fmt("%Y-%m-%dT%H:%M:%S", &at)
        ),
        Form::Bad => "CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN 'yesterday' ELSE '2025-02-30 10:00:00' END".to_owned(),
    };
    let created = match timestamps {
        Timestamps::All(form) => form_sql(form),
        Timestamps::Aico => {
            let mut from = 0;
            let mut arms = String::new();
            for (form, share) in Form::AICO_MIX {
                from += share;
                arms.push_str(&format!(" WHEN i % 100 < {from} THEN {}", form_sql(form)));
            }
            format!("CASE{arms} END")
        }
    };
    // Offsets in minutes: +02:00, -05:00, +05:30, -00:30, +14:00, +00:00.
    let offset =
        "CASE i % 6 WHEN 0 THEN 120 WHEN 1 THEN -300 WHEN 2 THEN 330 WHEN 3 THEN -30 WHEN 4 THEN 840 ELSE 0 END";
    let user = crate::aico::USER;
    let content = "'Fact ' || i || ': the user prefers green tea in the morning and coffee after lunch, \
                   walks the dog before work, and is learning Portuguese for a trip to Lisbon.'";
    let entities = "'[{\"type\": \"person\", \"text\": \"user\"}, {\"type\": \"place\", \"text\": \"Lisbon\"}]'";
    let conversation = if pg { "md5(i::text)" } else { "'conv-' || (i / 20)" };
    let (columns, values) = match table {
        Table::Seed => (
            "id, user_id, fact_type, category, confidence, content, entities_json, source_conversation_id, \
             created_at, updated_at, extra_notes",
            format!(
                "{key}, '{user}', 'preference', 'preferences', (i % 100) / 100.0, {content}, {entities}, \
                 {conversation}, c, c, 'n' || i"
            ),
        ),
        Table::Aico => (
            "fact_id, user_id, fact_type, category, confidence, valid_from, content, entities_json, \
             extraction_method, source_conversation_id, created_at, updated_at, content_type",
            format!(
                "{key}, '{user}', 'preference', 'preferences', (i % 100) / 100.0, COALESCE(c, '2025-01-01 00:00:00'), {content}, {entities}, 'llm', \
                 {conversation}, c, c, 'message'"
            ),
        ),
    };
    let name = match table {
        Table::Seed => "semantic_facts",
        Table::Aico => "user_memories",
    };
    exec(
        db,
        &format!(
            "INSERT INTO {name} ({columns}) SELECT {values} FROM \
             (SELECT i, {created} AS c FROM (SELECT i, {offset} AS o FROM ({series}) AS s) AS q) AS g"
        ),
    )
    .await;
}

/// `n` near-miss timestamps, the same for the same `seed`: edge dates (years 0, 1, 9999, leap
/// days, day 0 and 32), hour 24, minute and second 60 (leap seconds), offsets up to ±14:00 that
/// push the instant across the ends of years 1 to 9999 (and some beyond ±23:59), odd separators,
/// spacing, long fractions and truncated strings. Each part is off with a small probability, so
/// about half of them are valid.
pub fn near_miss_timestamps(n: usize, seed: u64) -> Vec<String> {
    let mut state = seed;
    let mut next = move |k: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % k as u64) as usize
    };
    let odd_dates = [
        "0000-01-01",
        "0000-12-31",
        "2024-02-29",
        "2025-02-29",
        "1900-02-29",
        "2025-04-31",
        "2025-00-10",
        "2025-13-10",
        "2025-06-00",
        "2025-07-32",
        "10000-01-01",
        "99999-12-31",
        "2025-1-07",
    ];
    let odd_times = ["24:00:00", "23:60:00", "23:59:60", "00:59:60", "12:00:61", "7:00:00", "12:00"];
    let odd_seps = ["  ", "_", "x", "", "\t", "T "];
    let odd_fracs = [".", ",5", ".12a", ".999999", ".9999995", ".999999999999", ".000000", ".0000001"];
    let odd_zones = ["+23:59", "-23:59", "+24:00", "+0530", "+05", " Z", "ZZ", "UTC", "+05:30:00", "z", "-00:00"];
    let pads = [" ", "\n", "\t ", "  "];
    (0..n)
        .map(|_| {
            // A quarter sit at an end of the range: near midnight of 0001-01-01 or 9999-12-31.
            let edge = next(4) == 0;
            let date = match (edge, next(10)) {
                (true, k) => ["0001-01-01", "9999-12-31", "0000-12-31", "0001-01-01", "9999-12-31"][k % 5].to_owned(),
                (false, 0) => odd_dates[next(odd_dates.len())].to_owned(),
                (false, _) => format!("{:04}-{:02}-{:02}", next(10_000), 1 + next(12), 1 + next(28)),
            };
            let time = match (edge, next(10)) {
                (_, 0) => odd_times[next(odd_times.len())].to_owned(),
                (true, _) => format!("{:02}:{:02}:{:02}", [0, 1, 10, 13, 14, 22, 23][next(7)], next(60), next(60)),
                (false, _) => format!("{:02}:{:02}:{:02}", next(24), next(60), next(60)),
            };
            let sep = match next(20) {
                0..=9 => "T",
                10..=14 => " ",
                15 | 16 => "t",
                _ => odd_seps[next(odd_seps.len())],
            };
            let frac = match next(10) {
                0..=3 => String::new(),
                // 1 to 15 random digits.
                4..=7 => {
                    format!(".{}", (0..1 + next(15)).map(|_| char::from(b'0' + next(10) as u8)).collect::<String>())
                }
                _ => odd_fracs[next(odd_fracs.len())].to_owned(),
            };
            let zone = match next(20) {
                0..=4 => String::new(),
                5..=10 => "Z".to_owned(),
                11..=17 => {
                    let minutes = [0, 0, 1, 15, 30, 45, 59][next(7)];
                    let hours = if minutes == 0 { next(15) } else { next(14) };
                    format!("{}{hours:02}:{minutes:02}", ["+", "-"][next(2)])
                }
                _ => odd_zones[next(odd_zones.len())].to_owned(),
            };
            let (lead, trail) = match next(20) {
                0 => (pads[next(pads.len())], ""),
                1 => ("", pads[next(pads.len())]),
                _ => ("", ""),
            };
            let mut text = format!("{lead}{date}{sep}{time}{frac}{zone}{trail}");
            if next(16) == 0 {
                // Truncated: cut at a random character.
                let keep = next(text.chars().count());
                text = text.chars().take(keep).collect();
            }
            text
        })
        .collect()
}
