//! The cascade view (matriks peran hasil) of an SKP: its RHK and, level by level, the RHK of
//! approved SKP of the same period that link to them; plus the gaps: RHK nobody supports and
//! subordinates without an approved SKP.

use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::Store;
use super::entities::{assignment, employee, skp, skp_indicator, skp_rhk};
use super::skp::{RhkDoc, SkpDoc, SkpRow};
use crate::error::Result;

/// Deepest level a cascade follows.
pub const MAX_CASCADE_DEPTH: u32 = 10;

/// One RHK in the tree with its supporters.
#[derive(Debug, Clone)]
pub struct Node {
    /// The RHK with its indicators.
    pub rhk: RhkDoc,
    /// Its SKP.
    pub skp_id: String,
    /// The SKP's employee.
    pub employee_id: String,
    /// That employee's name.
    pub employee_name: String,
    /// Levels below the top SKP.
    pub depth: u32,
    /// RHK of approved SKP linking to this one.
    pub supported_by: Vec<Node>,
}

/// An RHK with no supporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The RHK.
    pub rhk_id: String,
    /// Its text.
    pub text: String,
    /// UTAMA or TAMBAHAN.
    pub kind: String,
    /// Its SKP.
    pub skp_id: String,
    /// The SKP's employee.
    pub employee_id: String,
}

/// A subordinate without an approved SKP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The subordinate.
    pub employee_id: String,
    /// Their name.
    pub employee_name: String,
    /// Their superior in the tree.
    pub superior_id: String,
    /// Their unapproved SKP of the period and its state, if any.
    pub skp: Option<(String, String)>,
}

/// The cascade below an SKP.
#[derive(Debug, Clone)]
pub struct Cascade {
    /// The top SKP (basic).
    pub root: SkpDoc,
    /// Its RHK with their supporters.
    pub nodes: Vec<Node>,
    /// RHK in the tree (of employees with subordinates) that nobody supports.
    pub unsupported: Vec<Unsupported>,
    /// Subordinates without an approved SKP.
    pub missing: Vec<Missing>,
}

fn approved(s: &SkpRow) -> bool {
    s.approved_at.is_some()
}

impl Store {
    /// The cascade below SKP `id`, following at most `max_depth` levels.
    pub async fn cascade(&self, id: &str, max_depth: u32) -> Result<Cascade> {
        let db = self.conn();
        let root = self.get_skp(id).await?;
        let max_depth = max_depth.clamp(1, MAX_CASCADE_DEPTH);

        // Level by level: RHK of approved SKP of the same period linking to the frontier.
        let mut skps: HashMap<String, SkpRow> = HashMap::from([(root.id.clone(), root.clone())]);
        let mut depth_of: HashMap<String, u32> = HashMap::from([(root.id.clone(), 0)]);
        let mut all_rhk: HashMap<String, skp_rhk::Model> = HashMap::new();
        for r in skp_rhk::Entity::find()
            .filter(skp_rhk::Column::SkpId.eq(&root.id))
            .all(db)
            .await?
        {
            all_rhk.insert(r.id.clone(), r);
        }
        let mut frontier: Vec<String> = all_rhk.keys().cloned().collect();
        for depth in 1..=max_depth {
            if frontier.is_empty() {
                break;
            }
            let mut kids = Vec::new();
            for chunk in frontier.chunks(500) {
                kids.extend(
                    skp_rhk::Entity::find()
                        .filter(skp_rhk::Column::ParentRhkId.is_in(chunk.to_vec()))
                        .all(db)
                        .await?,
                );
            }
            let new_skps: Vec<String> = kids
                .iter()
                .map(|k| k.skp_id.clone())
                .filter(|s| !skps.contains_key(s))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            for chunk in new_skps.chunks(500) {
                for s in skp::Entity::find()
                    .filter(skp::Column::Id.is_in(chunk.to_vec()))
                    .filter(skp::Column::PeriodId.eq(&root.period_id))
                    .filter(skp::Column::ApprovedAt.is_not_null())
                    .all(db)
                    .await?
                {
                    depth_of.insert(s.id.clone(), depth);
                    skps.insert(s.id.clone(), s);
                }
            }
            frontier.clear();
            for k in kids {
                let counted = skps
                    .get(&k.skp_id)
                    .is_some_and(|s| s.id == root.id || approved(s));
                if counted && !all_rhk.contains_key(&k.id) {
                    frontier.push(k.id.clone());
                    all_rhk.insert(k.id.clone(), k);
                }
            }
        }

        // Every RHK of the SKP in the tree (for the gaps), and the indicators of the tree's RHK.
        let skp_ids: Vec<String> = skps.keys().cloned().collect();
        let mut rhk_of_skp: HashMap<String, Vec<skp_rhk::Model>> = HashMap::new();
        for chunk in skp_ids.chunks(500) {
            for r in skp_rhk::Entity::find()
                .filter(skp_rhk::Column::SkpId.is_in(chunk.to_vec()))
                .order_by_asc(skp_rhk::Column::Sequence)
                .all(db)
                .await?
            {
                rhk_of_skp.entry(r.skp_id.clone()).or_default().push(r);
            }
        }
        let tree_rhk: Vec<String> = all_rhk.keys().cloned().collect();
        let mut inds: HashMap<String, Vec<skp_indicator::Model>> = HashMap::new();
        for chunk in tree_rhk.chunks(500) {
            for i in skp_indicator::Entity::find()
                .filter(skp_indicator::Column::RhkId.is_in(chunk.to_vec()))
                .order_by_asc(skp_indicator::Column::Sequence)
                .all(db)
                .await?
            {
                inds.entry(i.rhk_id.clone()).or_default().push(i);
            }
        }
        // Supporters of any RHK of the tree's SKP among approved SKP of the period.
        let mut supported: HashSet<String> = HashSet::new();
        let every_rhk: Vec<String> = rhk_of_skp
            .values()
            .flatten()
            .map(|r| r.id.clone())
            .collect();
        for chunk in every_rhk.chunks(500) {
            let links = skp_rhk::Entity::find()
                .filter(skp_rhk::Column::ParentRhkId.is_in(chunk.to_vec()))
                .all(db)
                .await?;
            let owners: Vec<String> = links.iter().map(|l| l.skp_id.clone()).collect();
            let ok: HashSet<String> = skp::Entity::find()
                .filter(skp::Column::Id.is_in(owners))
                .filter(skp::Column::PeriodId.eq(&root.period_id))
                .filter(skp::Column::ApprovedAt.is_not_null())
                .all(db)
                .await?
                .into_iter()
                .map(|s| s.id)
                .collect();
            supported.extend(
                links
                    .into_iter()
                    .filter(|l| ok.contains(&l.skp_id))
                    .filter_map(|l| l.parent_rhk_id),
            );
        }

        // Names of everyone in the tree and their subordinates.
        let mut names: HashMap<String, String> = HashMap::new();
        let mut want_names: HashSet<String> =
            skps.values().map(|s| s.employee_id.clone()).collect();

        // Subordinates of each visited SKP's employee (assignments during the SKP's span, or SKP
        // of the period recording them as assessor), down to the last level followed.
        let mut subordinates: Vec<(String, String)> = Vec::new(); // (superior, subordinate)
        let mut has_subordinates: HashSet<String> = HashSet::new();
        let mut visited: Vec<&SkpRow> = skps
            .values()
            .filter(|s| depth_of.get(&s.id).is_some_and(|d| *d < max_depth))
            .collect();
        visited.sort_by(|a, b| (depth_of.get(&a.id), &a.id).cmp(&(depth_of.get(&b.id), &b.id)));
        for s in &visited {
            let mut subs: HashSet<String> = assignment::Entity::find()
                .filter(assignment::Column::SuperiorEmployeeId.eq(&s.employee_id))
                .filter(assignment::Column::Kind.eq("DEFINITIF"))
                .filter(assignment::Column::StartDate.lte(s.end_date))
                .filter(
                    Condition::any()
                        .add(assignment::Column::EndDate.is_null())
                        .add(assignment::Column::EndDate.gte(s.start_date)),
                )
                .all(db)
                .await?
                .into_iter()
                .map(|a| a.employee_id)
                .collect();
            subs.extend(
                skp::Entity::find()
                    .filter(skp::Column::AssessorId.eq(&s.employee_id))
                    .filter(skp::Column::PeriodId.eq(&root.period_id))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|x| x.employee_id),
            );
            subs.remove(&s.employee_id);
            if !subs.is_empty() {
                has_subordinates.insert(s.id.clone());
            }
            let mut subs: Vec<String> = subs.into_iter().collect();
            subs.sort();
            for sub in subs {
                want_names.insert(sub.clone());
                subordinates.push((s.employee_id.clone(), sub));
            }
        }
        let want: Vec<String> = want_names.into_iter().collect();
        for chunk in want.chunks(500) {
            for e in employee::Entity::find()
                .filter(employee::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?
            {
                names.insert(e.id, e.name);
            }
        }

        // Gaps.
        let mut unsupported = Vec::new();
        for s in &visited {
            if s.id != root.id && !has_subordinates.contains(&s.id) {
                continue;
            }
            for r in rhk_of_skp.get(&s.id).into_iter().flatten() {
                if !supported.contains(&r.id) {
                    unsupported.push(Unsupported {
                        rhk_id: r.id.clone(),
                        text: r.text.clone(),
                        kind: r.kind.clone(),
                        skp_id: s.id.clone(),
                        employee_id: s.employee_id.clone(),
                    });
                }
            }
        }
        let mut missing = Vec::new();
        let mut reported = HashSet::new();
        for (sup, sub) in subordinates {
            if !reported.insert(sub.clone()) {
                continue;
            }
            let theirs = skp::Entity::find()
                .filter(skp::Column::EmployeeId.eq(&sub))
                .filter(skp::Column::PeriodId.eq(&root.period_id))
                .order_by_desc(skp::Column::StartDate)
                .all(db)
                .await?;
            if theirs.iter().any(approved) {
                continue;
            }
            missing.push(Missing {
                employee_name: names.get(&sub).cloned().unwrap_or_default(),
                employee_id: sub,
                superior_id: sup,
                skp: theirs.first().map(|s| (s.id.clone(), s.state.clone())),
            });
        }

        // The tree.
        let mut children: HashMap<String, Vec<skp_rhk::Model>> = HashMap::new();
        for r in all_rhk.values() {
            if r.skp_id != root.id
                && let Some(p) = &r.parent_rhk_id
            {
                children.entry(p.clone()).or_default().push(r.clone());
            }
        }
        for v in children.values_mut() {
            v.sort_by(|a, b| {
                (depth_of.get(&a.skp_id), &a.skp_id, a.sequence).cmp(&(
                    depth_of.get(&b.skp_id),
                    &b.skp_id,
                    b.sequence,
                ))
            });
        }
        let ctx = TreeCtx {
            children: &children,
            skps: &skps,
            names: &names,
            inds: &inds,
        };
        let mut seen = HashSet::new();
        let nodes = rhk_of_skp
            .get(&root.id)
            .into_iter()
            .flatten()
            .map(|r| ctx.node(r, 0, &mut seen))
            .collect();
        let root_doc = SkpDoc {
            assessed_periods: self.assessed_periods(&root.id).await?,
            skp: root,
            rhk: Vec::new(),
            behaviours: Vec::new(),
        };
        Ok(Cascade {
            root: root_doc,
            nodes,
            unsupported,
            missing,
        })
    }
}

struct TreeCtx<'a> {
    children: &'a HashMap<String, Vec<skp_rhk::Model>>,
    skps: &'a HashMap<String, SkpRow>,
    names: &'a HashMap<String, String>,
    inds: &'a HashMap<String, Vec<skp_indicator::Model>>,
}

impl TreeCtx<'_> {
    fn node(&self, r: &skp_rhk::Model, depth: u32, seen: &mut HashSet<String>) -> Node {
        seen.insert(r.id.clone());
        let employee_id = self
            .skps
            .get(&r.skp_id)
            .map(|s| s.employee_id.clone())
            .unwrap_or_default();
        let supported_by = self
            .children
            .get(&r.id)
            .into_iter()
            .flatten()
            .filter(|c| !seen.contains(&c.id))
            .cloned()
            .collect::<Vec<_>>()
            .iter()
            .map(|c| self.node(c, depth + 1, seen))
            .collect();
        Node {
            rhk: RhkDoc {
                rhk: r.clone(),
                indicators: self.inds.get(&r.id).cloned().unwrap_or_default(),
            },
            skp_id: r.skp_id.clone(),
            employee_name: self.names.get(&employee_id).cloned().unwrap_or_default(),
            employee_id,
            depth,
            supported_by,
        }
    }
}
