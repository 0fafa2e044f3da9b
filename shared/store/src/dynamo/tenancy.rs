//! Tenants and API keys in the table: `K#{key hash}` / `KEY` points a key at its tenant (a
//! lookup by hash alone), and `T#{tenant}` / `TENANT` holds the tenant's client patterns and
//! the state of each of its keys (label, created, expiry, revoked; scopes and narrowed client
//! patterns when not all) in one map, so revoking a key is one update of one item.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};

use super::items::{get_n, get_s, n, s, Item};
use super::retry::{classify, with_retry, AttemptError};
use super::DynamoStore;
use crate::keys;
use crate::limits::TenantLimits;
use crate::scopes::Scopes;
use crate::tenancy::{ClientPatterns, KeyHash, KeyState, Tenant, TenantId};
use crate::StoreError;

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("tenant item: {what}"))
}

fn key_state_value(state: &KeyState) -> AttributeValue {
    let mut map = HashMap::from([
        ("label".to_owned(), s(state.label.clone())),
        ("created_at".to_owned(), n(state.created_at)),
        ("revoked".to_owned(), AttributeValue::Bool(state.revoked)),
    ]);
    if let Some(expires) = state.expires_at {
        map.insert("expires_at".to_owned(), n(expires));
    }
    // Absent attributes mean every scope and the tenant's clients (keys made before scopes).
    if !state.scopes.is_all() {
        map.insert("scopes".to_owned(), s(state.scopes.to_string()));
    }
    if let Some(clients) = &state.only_clients {
        map.insert("clients".to_owned(), s(clients.to_string()));
    }
    AttributeValue::M(map)
}

fn key_state_of(value: &AttributeValue) -> Result<KeyState, StoreError> {
    let map = value.as_m().map_err(|_| corrupt("a key is not a map"))?;
    let number = |name: &str| -> Result<Option<i64>, StoreError> {
        map.get(name)
            .map(|v| {
                v.as_n()
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| corrupt(name))
            })
            .transpose()
    };
    Ok(KeyState {
        label: map
            .get("label")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default(),
        created_at: number("created_at")?.unwrap_or(0),
        expires_at: number("expires_at")?,
        revoked: map
            .get("revoked")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        scopes: match map.get("scopes") {
            None => Scopes::all(),
            Some(v) => v
                .as_s()
                .ok()
                .and_then(|text| Scopes::parse(text).ok())
                .ok_or_else(|| corrupt("scopes"))?,
        },
        only_clients: map
            .get("clients")
            .map(|v| {
                v.as_s()
                    .ok()
                    .and_then(|text| ClientPatterns::parse(text, true).ok())
                    .ok_or_else(|| corrupt("key clients"))
            })
            .transpose()?,
    })
}

fn tenant_of_item(id: &TenantId, item: &Item) -> Result<Tenant, StoreError> {
    let clients = get_s(item, "clients")?;
    // Stored patterns were validated when written, `*` included when it was granted.
    let clients = ClientPatterns::parse(clients, true).map_err(|e| corrupt(&e.to_string()))?;
    let created_at = get_n(item, "created_at")?
        .parse()
        .map_err(|_| corrupt("created_at"))?;
    let mut keys = BTreeMap::new();
    if let Some(AttributeValue::M(map)) = item.get("keys") {
        for (hash, state) in map {
            let hash = KeyHash::from_hex(hash.clone()).ok_or_else(|| corrupt("key hash"))?;
            keys.insert(hash, key_state_of(state)?);
        }
    }
    let limit = |name: &str| -> Result<Option<u64>, StoreError> {
        item.get(name)
            .map(|v| {
                v.as_n()
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| corrupt(name))
            })
            .transpose()
    };
    Ok(Tenant {
        id: id.clone(),
        clients,
        created_at,
        keys,
        limits: TenantLimits {
            rate_per_second: limit(LIMIT_ATTRIBUTES[0])?,
            burst: limit(LIMIT_ATTRIBUTES[1])?,
            daily: limit(LIMIT_ATTRIBUTES[2])?,
            reads_per_second: limit(LIMIT_ATTRIBUTES[3])?,
        },
    })
}

/// The tenant item's limit attributes, in `TenantLimits`' order; absent: the default.
const LIMIT_ATTRIBUTES: [&str; 4] = [
    "limit_rate_per_second",
    "limit_burst",
    "limit_daily",
    "limit_reads_per_second",
];

impl DynamoStore {
    /// One item by key, or `None`; `consistent`: a strongly consistent read (twice the cost).
    pub(super) async fn get_one(
        &self,
        what: &str,
        pk: String,
        sk: &str,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        with_retry(self.limits(), what, || {
            let request = self
                .client
                .get_item()
                .table_name(self.table())
                .key("pk", s(pk.clone()))
                .key("sk", s(sk))
                .consistent_read(consistent)
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            async move {
                self.count_request();
                match request.send().await {
                    Ok(out) => {
                        self.count_capacity(what, false, out.consumed_capacity());
                        Ok(out.item)
                    }
                    Err(err) => self.transient(classify(what, err)),
                }
            }
        })
        .await
    }

    pub(super) async fn tenant_of_key_item(
        &self,
        hash: &KeyHash,
    ) -> Result<Option<TenantId>, StoreError> {
        let Some(item) = self
            .get_one("get key", keys::key_pk(hash), keys::KEY_SK, false)
            .await?
        else {
            return Ok(None);
        };
        let tenant = get_s(&item, "tenant")?;
        TenantId::parse(tenant)
            .map(Some)
            .map_err(|e| corrupt(&e.to_string()))
    }

    pub(super) async fn get_tenant_item(
        &self,
        id: &TenantId,
    ) -> Result<Option<Tenant>, StoreError> {
        self.get_one("get tenant", keys::tenant_pk(id), keys::TENANT_SK, false)
            .await?
            .map(|item| tenant_of_item(id, &item))
            .transpose()
    }

    /// Creates the tenant item or replaces its client patterns; its keys stay as they are.
    pub(super) async fn put_tenant_item(
        &self,
        id: &TenantId,
        clients: &ClientPatterns,
        now: i64,
    ) -> Result<(), StoreError> {
        with_retry(self.limits(), "put tenant", || {
            let request = self
                .client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::tenant_pk(id)))
                .key("sk", s(keys::TENANT_SK))
                .update_expression(
                    "SET clients = :clients, created_at = if_not_exists(created_at, :now), \
                     #keys = if_not_exists(#keys, :none)",
                )
                .expression_attribute_names("#keys", "keys")
                .expression_attribute_values(":clients", s(clients.to_string()))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":none", AttributeValue::M(HashMap::new()));
            async move {
                self.count_request();
                match request.send().await {
                    Ok(_) => Ok(()),
                    Err(err) => self.transient(classify("put tenant", err)),
                }
            }
        })
        .await
    }

    /// Sets the limits given, removes the others (back to the deployment's defaults);
    /// `false` when the tenant does not exist.
    pub(super) async fn set_tenant_limits_item(
        &self,
        id: &TenantId,
        limits: &TenantLimits,
    ) -> Result<bool, StoreError> {
        let fields = [
            limits.rate_per_second,
            limits.burst,
            limits.daily,
            limits.reads_per_second,
        ];
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut values = HashMap::new();
        for (name, value) in LIMIT_ATTRIBUTES.iter().zip(fields) {
            match value {
                Some(value) => {
                    set.push(format!("{name} = :{name}"));
                    values.insert(format!(":{name}"), n(value));
                }
                None => remove.push(name.to_string()),
            }
        }
        let mut expression = String::new();
        if !set.is_empty() {
            expression.push_str(&format!("SET {} ", set.join(", ")));
        }
        if !remove.is_empty() {
            expression.push_str(&format!("REMOVE {}", remove.join(", ")));
        }
        self.update_tenant_if(id, "set tenant limits", |update| {
            update
                .update_expression(expression.trim_end())
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_values((!values.is_empty()).then(|| values.clone()))
        })
        .await
    }

    /// The key's pointer and its state on the tenant, in one transaction; the tenant must exist.
    pub(super) async fn add_key_items(
        &self,
        tenant: &TenantId,
        hash: &KeyHash,
        state: &KeyState,
    ) -> Result<(), StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Internal(e.to_string());
        let pointer = Put::builder()
            .table_name(self.table())
            .item("pk", s(keys::key_pk(hash)))
            .item("sk", s(keys::KEY_SK))
            .item("tenant", s(tenant.as_str()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build)?;
        let on_tenant = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::tenant_pk(tenant)))
            .key("sk", s(keys::TENANT_SK))
            .update_expression("SET #keys.#hash = :state")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#keys", "keys")
            .expression_attribute_names("#hash", hash.as_str())
            .expression_attribute_values(":state", key_state_value(state))
            .build()
            .map_err(build)?;
        let actions = vec![
            TransactWriteItem::builder().put(pointer).build(),
            TransactWriteItem::builder().update(on_tenant).build(),
        ];
        with_retry(self.limits(), "add key", || {
            let request = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()));
            async move {
                self.count_request();
                match request.send().await {
                    Ok(_) => Ok(()),
                    Err(err) => {
                        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                            err.as_service_error()
                        {
                            let reasons: Vec<_> = c
                                .cancellation_reasons()
                                .iter()
                                .map(|r| r.code().unwrap_or("None"))
                                .collect();
                            if reasons.contains(&"ConditionalCheckFailed") {
                                return Err(AttemptError::Fatal(StoreError::Internal(format!(
                                    "add key: tenant {tenant} does not exist, or the key is \
                                     already registered ({reasons:?})"
                                ))));
                            }
                        }
                        self.transient(classify("add key", err))
                    }
                }
            }
        })
        .await
    }

    /// Marks the key revoked; `false` when the tenant has no such key.
    pub(super) async fn revoke_key_item(
        &self,
        tenant: &TenantId,
        hash: &KeyHash,
    ) -> Result<bool, StoreError> {
        self.update_tenant_if(tenant, "revoke key", |update| {
            update
                .update_expression("SET #keys.#hash.revoked = :yes")
                .condition_expression("attribute_exists(#keys.#hash)")
                .expression_attribute_names("#keys", "keys")
                .expression_attribute_names("#hash", hash.as_str())
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
        })
        .await
    }

    /// One conditional update of `tenant`'s item, made by `build`: `false` when its
    /// condition failed (no such tenant, or no such key).
    async fn update_tenant_if(
        &self,
        tenant: &TenantId,
        what: &str,
        build: impl Fn(UpdateItemFluentBuilder) -> UpdateItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        with_retry(self.limits(), what, || {
            let request = build(
                self.client
                    .update_item()
                    .table_name(self.table())
                    .key("pk", s(keys::tenant_pk(tenant)))
                    .key("sk", s(keys::TENANT_SK)),
            );
            async move {
                self.count_request();
                match request.send().await {
                    Ok(_) => Ok(true),
                    Err(err) => match err.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                        _ => self.transient(classify(what, err)),
                    },
                }
            }
        })
        .await
    }
}
