//! `/subsz` (alias `/subscriptionsz`): subscription index counters summed
//! over the accounts, and optionally the subscriptions themselves.

use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::accounts::{SublistJson, SublistSum};
use super::connz::{page, SubDetail, DEFAULT_LIMIT};
use super::format::rfc3339;
use super::query::{BadRequest, Query};
use super::Monitor;
use crate::subject::{is_valid_literal_subject, subject_matches};

/// The `/subsz` document.
#[derive(Debug, Clone, Serialize)]
pub struct Subsz {
    pub server_id: String,
    pub now: String,
    #[serde(flatten)]
    pub stats: SublistJson,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<SubDetail>,
}

impl Monitor {
    /// Builds `/subsz` from `subs`, `offset`, `limit`, `test` and `acc`.
    pub fn subsz(&self, q: &Query) -> Result<Subsz, BadRequest> {
        let detail = q.bool("subs")?;
        let offset = q.int("offset")?.max(0) as usize;
        let limit = match q.int("limit")? {
            n if n <= 0 => DEFAULT_LIMIT,
            n => n as usize,
        };
        let test = q.get("test");
        if !test.is_empty() && !is_valid_literal_subject(test) {
            return Err(BadRequest(format!(
                "invalid test subject, must be valid publish subject: {test}"
            )));
        }
        let filter_acc = q.get("acc");
        let s = &self.server;
        let mut sum = SublistSum::default();
        let mut details = Vec::new();
        for acc in s.accounts.all() {
            if !filter_acc.is_empty() && &*acc.name != filter_acc {
                continue;
            }
            sum.add(&acc.sublist.stats());
            if !detail {
                continue;
            }
            for sub in acc.sublist.all() {
                if !test.is_empty() && !subject_matches(&sub.subject, test) {
                    continue;
                }
                details.push(SubDetail {
                    account: acc.name.to_string(),
                    account_tag: acc.name.to_string(),
                    subject: sub.subject.to_string(),
                    queue: sub.queue.as_ref().map(|q| q.to_string()),
                    sid: String::from_utf8_lossy(&sub.sid).into_owned(),
                    msgs: sub.delivered.load(Ordering::Relaxed),
                    max: sub.max.load(Ordering::Relaxed),
                    cid: sub.client.id,
                });
            }
        }
        let (total, list) = if detail {
            details.sort_by(|a, b| {
                (&a.account, a.cid, &a.subject, &a.sid)
                    .cmp(&(&b.account, b.cid, &b.subject, &b.sid))
            });
            (details.len(), page(details, offset, limit))
        } else {
            (0, Vec::new())
        };
        Ok(Subsz {
            server_id: s.id.clone(),
            now: rfc3339(SystemTime::now()),
            stats: sum.finish(),
            total,
            offset,
            limit,
            subscriptions_list: list,
        })
    }
}
