//! The encoding of an SKP's content (its RHK with indicators, and its behaviour values) as the
//! one value stored in `skps.content` (see [`super::entities::skp_content`]).
//!
//! Protocol Buffers through prost, which the service already uses: compact, decoded without a
//! schema lookup, and fields can be added later under new tags without breaking stored values.
//! The messages are the store's own (they are not part of the API): each row as the database holds
//! it, less the ids that the position in the message already gives (the SKP of every row, the RHK
//! of every indicator). Times are kept to the nanosecond, so a decoded row equals the row read.

use chrono::{DateTime, Utc};
use prost::Message;

use super::cache::SkpContent;
use super::skp::{BehaviourRow, IndicatorRow, RhkDoc, RhkRow};

/// The content of one SKP.
#[derive(Clone, PartialEq, Message)]
struct ContentMsg {
    /// The RHK in document order.
    #[prost(message, repeated, tag = "1")]
    rhk: Vec<RhkMsg>,
    /// The behaviour values in the official order.
    #[prost(message, repeated, tag = "2")]
    behaviours: Vec<BehaviourMsg>,
}

/// A point in time: seconds since the Unix epoch and the nanoseconds within that second.
#[derive(Clone, Copy, PartialEq, Message)]
struct TimeMsg {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    #[prost(int64, tag = "1")]
    secs: i64,
    /// Nanoseconds within the second.
    #[prost(uint32, tag = "2")]
    nanos: u32,
}

/// One RHK row with its indicators.
#[derive(Clone, PartialEq, Message)]
struct RhkMsg {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(int32, tag = "2")]
    sequence: i32,
    #[prost(string, tag = "3")]
    kind: String,
    #[prost(string, tag = "4")]
    text: String,
    #[prost(string, optional, tag = "5")]
    perspective: Option<String>,
    #[prost(string, optional, tag = "6")]
    parent_rhk_id: Option<String>,
    #[prost(int64, tag = "7")]
    version: i64,
    #[prost(message, optional, tag = "8")]
    created_at: Option<TimeMsg>,
    #[prost(message, optional, tag = "9")]
    updated_at: Option<TimeMsg>,
    /// Its indicators in order.
    #[prost(message, repeated, tag = "10")]
    indicators: Vec<IndicatorMsg>,
}

/// One indicator row.
#[derive(Clone, PartialEq, Message)]
struct IndicatorMsg {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(int32, tag = "2")]
    sequence: i32,
    #[prost(string, tag = "3")]
    aspect: String,
    #[prost(string, tag = "4")]
    text: String,
    #[prost(double, tag = "5")]
    target: f64,
    #[prost(string, tag = "6")]
    unit: String,
    #[prost(int64, tag = "7")]
    version: i64,
    #[prost(message, optional, tag = "8")]
    created_at: Option<TimeMsg>,
    #[prost(message, optional, tag = "9")]
    updated_at: Option<TimeMsg>,
}

/// One behaviour value row.
#[derive(Clone, PartialEq, Message)]
struct BehaviourMsg {
    #[prost(string, tag = "1")]
    value: String,
    #[prost(string, tag = "2")]
    expectation: String,
    #[prost(int64, tag = "3")]
    version: i64,
    #[prost(message, optional, tag = "4")]
    updated_at: Option<TimeMsg>,
}

fn time(t: &DateTime<Utc>) -> Option<TimeMsg> {
    Some(TimeMsg {
        secs: t.timestamp(),
        nanos: t.timestamp_subsec_nanos(),
    })
}

fn time_of(t: Option<TimeMsg>) -> Result<DateTime<Utc>, String> {
    let t = t.ok_or("a time is missing")?;
    DateTime::from_timestamp(t.secs, t.nanos).ok_or_else(|| format!("time {t:?} out of range"))
}

/// Encodes the content of an SKP.
pub(crate) fn encode(c: &SkpContent) -> Vec<u8> {
    ContentMsg {
        rhk: c
            .rhk
            .iter()
            .map(|d| RhkMsg {
                id: d.rhk.id.clone(),
                sequence: d.rhk.sequence,
                kind: d.rhk.kind.clone(),
                text: d.rhk.text.clone(),
                perspective: d.rhk.perspective.clone(),
                parent_rhk_id: d.rhk.parent_rhk_id.clone(),
                version: d.rhk.version,
                created_at: time(&d.rhk.created_at),
                updated_at: time(&d.rhk.updated_at),
                indicators: d
                    .indicators
                    .iter()
                    .map(|i| IndicatorMsg {
                        id: i.id.clone(),
                        sequence: i.sequence,
                        aspect: i.aspect.clone(),
                        text: i.text.clone(),
                        target: i.target,
                        unit: i.unit.clone(),
                        version: i.version,
                        created_at: time(&i.created_at),
                        updated_at: time(&i.updated_at),
                    })
                    .collect(),
            })
            .collect(),
        behaviours: c
            .behaviours
            .iter()
            .map(|b| BehaviourMsg {
                value: b.value.clone(),
                expectation: b.expectation.clone(),
                version: b.version,
                updated_at: time(&b.updated_at),
            })
            .collect(),
    }
    .encode_to_vec()
}

/// Decodes the content of SKP `skp_id` from `bytes`; an error says what is wrong with them.
pub(crate) fn decode(skp_id: &str, bytes: &[u8]) -> Result<SkpContent, String> {
    let m = ContentMsg::decode(bytes).map_err(|e| e.to_string())?;
    let mut rhk = Vec::with_capacity(m.rhk.len());
    for r in m.rhk {
        let mut indicators = Vec::with_capacity(r.indicators.len());
        for i in r.indicators {
            indicators.push(IndicatorRow {
                id: i.id,
                rhk_id: r.id.clone(),
                skp_id: skp_id.to_owned(),
                sequence: i.sequence,
                aspect: i.aspect,
                text: i.text,
                target: i.target,
                unit: i.unit,
                version: i.version,
                created_at: time_of(i.created_at)?,
                updated_at: time_of(i.updated_at)?,
            });
        }
        rhk.push(RhkDoc {
            rhk: RhkRow {
                id: r.id,
                skp_id: skp_id.to_owned(),
                sequence: r.sequence,
                kind: r.kind,
                text: r.text,
                perspective: r.perspective,
                parent_rhk_id: r.parent_rhk_id,
                version: r.version,
                created_at: time_of(r.created_at)?,
                updated_at: time_of(r.updated_at)?,
            },
            indicators,
        });
    }
    let mut behaviours = Vec::with_capacity(m.behaviours.len());
    for b in m.behaviours {
        behaviours.push(BehaviourRow {
            skp_id: skp_id.to_owned(),
            value: b.value,
            expectation: b.expectation,
            version: b.version,
            updated_at: time_of(b.updated_at)?,
        });
    }
    Ok(SkpContent { rhk, behaviours })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sample() -> SkpContent {
        let ind = |id: &str, rhk: &str, seq: i32, target: f64| IndicatorRow {
            id: id.into(),
            rhk_id: rhk.into(),
            skp_id: "skp-1".into(),
            sequence: seq,
            aspect: "KUANTITAS".into(),
            text: format!("indikator {id}: jumlah dokumen \u{2014} 100%"),
            target,
            unit: "dokumen".into(),
            version: 3,
            created_at: at("2026-01-02T03:04:05.123456789Z"),
            updated_at: at("2026-02-03T04:05:06.000000001Z"),
        };
        SkpContent {
            rhk: vec![
                RhkDoc {
                    rhk: RhkRow {
                        id: "r1".into(),
                        skp_id: "skp-1".into(),
                        sequence: 1,
                        kind: "UTAMA".into(),
                        text: "Terwujudnya layanan".into(),
                        perspective: Some("PENERIMA_LAYANAN".into()),
                        parent_rhk_id: Some("p9".into()),
                        version: 2,
                        created_at: at("1999-12-31T23:59:59Z"),
                        updated_at: at("2026-12-07T00:00:00.5Z"),
                    },
                    indicators: vec![ind("i1", "r1", 1, 12.5), ind("i2", "r1", 2, 0.001)],
                },
                RhkDoc {
                    rhk: RhkRow {
                        id: "r2".into(),
                        skp_id: "skp-1".into(),
                        sequence: 2,
                        kind: "TAMBAHAN".into(),
                        text: String::new(),
                        perspective: None,
                        parent_rhk_id: None,
                        version: 1,
                        created_at: at("2026-01-01T00:00:00Z"),
                        updated_at: at("2026-01-01T00:00:00Z"),
                    },
                    indicators: vec![],
                },
            ],
            behaviours: vec![BehaviourRow {
                skp_id: "skp-1".into(),
                value: "AKUNTABEL".into(),
                expectation: "tepat waktu".into(),
                version: 4,
                updated_at: at("1969-07-20T20:17:40.25Z"),
            }],
        }
    }

    #[test]
    fn content_comes_back_as_it_was_stored() {
        let c = sample();
        let back = decode("skp-1", &encode(&c)).unwrap();
        assert_eq!(back.rhk, c.rhk);
        assert_eq!(back.behaviours, c.behaviours);
    }

    #[test]
    fn empty_content_comes_back_empty() {
        let c = SkpContent {
            rhk: vec![],
            behaviours: vec![],
        };
        let back = decode("x", &encode(&c)).unwrap();
        assert!(back.rhk.is_empty() && back.behaviours.is_empty());
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let bytes = encode(&sample());
        assert!(decode("skp-1", &bytes[..bytes.len() / 2]).is_err());
        assert!(decode("skp-1", &[0xff, 0xff, 0xff]).is_err());
    }
}
