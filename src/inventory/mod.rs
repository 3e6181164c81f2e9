//! The organization and AFT's tables read in bulk, once per provider process and shared by every
//! resource that needs them: refresh of many `aft_account_provisioning` and
//! `aft_customization_pipeline` instances, and the list resource for `terraform query`.
//!
//! One snapshot costs, for the root and every OU, `ListOrganizationalUnitsForParent` and
//! `ListAccountsForParent` pages (20 accounts each), run concurrently per level of the OU tree,
//! and `Scan` pages of the metadata table's keys (a refresh needs only whether an account has an
//! item), so a fleet of N accounts is read with about N/20 + 2 × OUs + N/400 calls instead of 4
//! calls per account. A snapshot answers only what it saw: an account it does not know is
//! looked up directly by the caller. The list resource, which needs the items themselves, reads
//! them whole once per process ([`metadata_items`]).
//!
//! It is the layer the resources, data sources, list resources and actions share (they never
//! import each other): the snapshot here, the customization targets of AFT's invoke-customizations
//! in [`targets`], and the state of an account taken under management in [`imported`].

pub mod filters;
pub mod imported;
pub mod pipeline;
pub mod targets;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aws::organizations::{self, AccountInfo};
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::Context;
use crate::framework::metadata::{MetadataItem, MetadataTable};

/// How long a snapshot (or the pipeline names) is trusted after it was read, unless a walk keeps
/// using it (see [`IDLE`]). Terraform starts a fresh provider process for each plan and apply.
pub const MAX_AGE: Duration = Duration::from_secs(120);

/// A pause in use that ends a read older than [`MAX_AGE`]. A refresh walk asks for the snapshot
/// with every read, one after the other, however long the walk: at 5,000 accounts Terraform's
/// walk takes minutes, and a snapshot that expired after 120 s was read again every 120 s, each
/// time holding every waiting refresh for the length of the bulk read. So one walk keeps the one
/// snapshot it started with (Terraform's refresh is not one moment either), and a use after a
/// pause (in a long apply, say) reads again.
pub const IDLE: Duration = Duration::from_secs(30);

/// The organization's accounts, their parents and AFT's metadata items at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every account by id.
    pub accounts: HashMap<String, AccountInfo>,
    /// The parent (root or OU id) of every account.
    pub parents: HashMap<String, String>,
    /// Every OU as (id, name, parent id).
    pub ous: Vec<(String, String, String)>,
    /// The root id.
    pub root: String,
    /// The account ids that have an item in AFT's metadata table.
    pub metadata_ids: HashSet<String>,
    /// When it was read.
    pub taken: Option<Instant>,
}

impl Snapshot {
    /// Reads the organization (through the CT management session) and the metadata table's keys,
    /// both at once. Only the keys: a scan of whole items costs the table's size in transfer (and
    /// in moto, 6× the time at 1,000 items), and a refresh only asks whether an item exists.
    pub async fn load(ctx: &Context) -> Result<Snapshot, AwsError> {
        let began = Instant::now();
        let org = async {
            let began = Instant::now();
            let org = clients::organizations(&ctx.ct_session().await?);
            let root = organizations::root_id(&org).await?;
            let (ous, accounts) = org_tree(&org, &root).await?;
            crate::plugin::timings::record("bulk read: organization", began.elapsed());
            Ok::<_, AwsError>((root, ous, accounts))
        };
        let metadata = async {
            let began = Instant::now();
            let ids = MetadataTable::of(ctx).ids().await?;
            crate::plugin::timings::record("bulk read: metadata keys", began.elapsed());
            Ok::<_, AwsError>(ids.into_iter().collect::<HashSet<_>>())
        };
        let ((root, ous, found), metadata_ids) = tokio::try_join!(org, metadata)?;
        let mut accounts = HashMap::with_capacity(found.len());
        let mut parents = HashMap::with_capacity(found.len());
        for (a, parent) in found {
            parents.insert(a.id.clone(), parent);
            accounts.insert(a.id.clone(), a);
        }
        crate::plugin::timings::record("bulk read (organization + metadata)", began.elapsed());
        Ok(Snapshot { accounts, parents, ous, root, metadata_ids, taken: Some(Instant::now()) })
    }

    /// The OU `id` and every OU below it.
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_string()];
        let mut i = 0;
        while i < out.len() {
            let p = out[i].clone();
            out.extend(self.ous.iter().filter(|(_, _, parent)| *parent == p).map(|(c, _, _)| c.clone()));
            i += 1;
        }
        out
    }

    /// The name of an OU (`Root` for the root).
    pub fn ou_name(&self, id: &str) -> Option<&str> {
        if id == self.root {
            return Some("Root");
        }
        self.ous.iter().find(|(i, _, _)| i == id).map(|(_, n, _)| n.as_str())
    }
}

/// How many parents (root or OUs) are read at once: Organizations allows a few requests per
/// second per account, and the SDK's retry absorbs the rest.
pub const ORG_CONCURRENCY: usize = 4;

/// Every OU below `root` and every account with its parent, walking the tree level by level:
/// for each parent, `ListOrganizationalUnitsForParent` and `ListAccountsForParent` together,
/// and the parents of one level concurrently. This replaces a paged `ListAccounts` (one page
/// after the other) plus a `ListChildren` per parent.
async fn org_tree(
    org: &aws_sdk_organizations::Client,
    root: &str,
) -> Result<(Vec<(String, String, String)>, Vec<(AccountInfo, String)>), AwsError> {
    use futures::{StreamExt, TryStreamExt};
    let (mut ous, mut accounts) = (Vec::new(), Vec::new());
    let mut level = vec![root.to_string()];
    while !level.is_empty() {
        let read: Vec<_> = futures::stream::iter(level.drain(..))
            .map(|parent| async move {
                let (children, members) = tokio::try_join!(
                    organizations::ous_for_parent(org, &parent),
                    organizations::accounts_in_parent(org, &parent)
                )?;
                Ok::<_, AwsError>((parent, children, members))
            })
            .buffer_unordered(ORG_CONCURRENCY)
            .try_collect()
            .await?;
        for (parent, children, members) in read {
            for (id, name) in children {
                level.push(id.clone());
                ous.push((id, name, parent.clone()));
            }
            accounts.extend(members.into_iter().map(|a| (a, parent.clone())));
        }
    }
    Ok((ous, accounts))
}

/// A bulk read shared by the calls of a provider process: read on first use, and again once it
/// is older than [`MAX_AGE`] *and* has not been asked for in [`IDLE`]; concurrent callers share
/// one read.
struct BulkSlot<T>(tokio::sync::Mutex<Option<Held<T>>>);

impl<T> Default for BulkSlot<T> {
    fn default() -> Self {
        BulkSlot(tokio::sync::Mutex::new(None))
    }
}

/// A value held by a [`BulkSlot`], with when it was read and last asked for.
struct Held<T> {
    value: Arc<T>,
    taken: tokio::time::Instant,
    used: tokio::time::Instant,
}

impl<T> BulkSlot<T> {
    async fn get<F: Future<Output = Result<T, AwsError>>>(&self, load: impl FnOnce() -> F) -> Result<Arc<T>, AwsError> {
        let mut slot = self.0.lock().await;
        let now = tokio::time::Instant::now();
        if let Some(held) = slot.as_mut()
            && (now - held.taken < MAX_AGE || now - held.used < IDLE)
        {
            held.used = now;
            return Ok(held.value.clone());
        }
        let value = Arc::new(load().await?);
        let now = tokio::time::Instant::now();
        *slot = Some(Held { value: value.clone(), taken: now, used: now });
        Ok(value)
    }
}

/// The process's snapshot, kept in the context.
#[derive(Default)]
struct SnapshotSlot(BulkSlot<Snapshot>);

/// The process's metadata items, kept in the context.
#[derive(Default)]
struct MetadataSlot(BulkSlot<HashMap<String, MetadataItem>>);

/// The process's pipeline names, kept in the context.
#[derive(Default)]
struct PipelinesSlot(BulkSlot<HashSet<String>>);

/// The snapshot of this provider process (see [`BulkSlot`] for when it is read again).
pub async fn shared(ctx: &Context) -> Result<Arc<Snapshot>, AwsError> {
    ctx.memo::<SnapshotSlot>()
        .0
        .get(|| async {
            let started = Instant::now();
            let s = Snapshot::load(ctx).await?;
            tracing::info!(
                accounts = s.accounts.len(),
                ous = s.ous.len(),
                metadata_items = s.metadata_ids.len(),
                ms = started.elapsed().as_millis() as u64,
                "read the organization and the metadata table"
            );
            Ok(s)
        })
        .await
}

/// Every item of AFT's metadata table by account id (one paged scan of whole items), shared like
/// the snapshot: for what needs the items themselves (the list resource), where the snapshot has
/// only their keys.
pub async fn metadata_items(ctx: &Context) -> Result<Arc<HashMap<String, MetadataItem>>, AwsError> {
    ctx.memo::<MetadataSlot>().0.get(|| async { MetadataTable::of(ctx).all().await }).await
}

/// The names of every CodePipeline pipeline in the AFT management account (paged
/// `ListPipelines`), shared like the snapshot.
pub async fn pipeline_names(ctx: &Context) -> Result<Arc<HashSet<String>>, AwsError> {
    ctx.memo::<PipelinesSlot>()
        .0
        .get(|| async {
            let began = Instant::now();
            let cp = clients::codepipeline(ctx.aws.hub());
            let mut names = HashSet::new();
            let mut pages = cp.list_pipelines().into_paginator().send();
            while let Some(page) = pages.next().await {
                names.extend(
                    page.aws("codepipeline:ListPipelines")?
                        .pipelines()
                        .iter()
                        .filter_map(|p| p.name().map(str::to_string)),
                );
            }
            crate::plugin::timings::record("bulk read (pipelines)", began.elapsed());
            Ok(names)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A bulk read's loads while `uses` ask for it at the given seconds (tokio's paused clock).
    async fn loads(uses: &[u64]) -> usize {
        let slot = BulkSlot::<u64>::default();
        let count = AtomicUsize::new(0);
        let start = tokio::time::Instant::now();
        for &at in uses {
            tokio::time::sleep_until(start + Duration::from_secs(at)).await;
            let v = slot.get(|| async { Ok(count.fetch_add(1, Ordering::SeqCst) as u64) }).await.unwrap();
            assert_eq!(*v as usize + 1, count.load(Ordering::SeqCst), "the latest read is served");
        }
        count.load(Ordering::SeqCst)
    }

    /// A refresh walk of ten minutes, asking every 5 s, is served by the one snapshot it began
    /// with (before: read at 0, 120, …, 600 s, six times, each read holding the walk).
    #[tokio::test(start_paused = true)]
    async fn a_walk_that_keeps_asking_keeps_its_snapshot_past_max_age() {
        let walk: Vec<u64> = (0..=600).step_by(5).collect();
        assert_eq!(loads(&walk).await, 1);
    }

    /// Past MAX_AGE, a use after a pause of IDLE or more reads again; within MAX_AGE, never.
    #[tokio::test(start_paused = true)]
    async fn a_use_after_a_pause_past_max_age_reads_again() {
        assert_eq!(loads(&[0, 100, 119]).await, 1);
        assert_eq!(loads(&[0, 100, 160]).await, 2); // 160 s old, 60 s idle
        assert_eq!(loads(&[0, 100, 125]).await, 1); // 125 s old, 25 s idle: the same walk
    }
}
