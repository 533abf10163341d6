//! Counts the DynamoDB requests a client really sends (one per HTTP attempt, retries included) and
//! the capacity DynamoDB reports for them: an interceptor on the SDK client that asks every request
//! for `ReturnConsumedCapacity=TOTAL` and reads `ConsumedCapacity` from every answer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct OperationTally {
    /// HTTP requests sent (attempts).
    pub requests: u64,
    /// Answers that carried `ConsumedCapacity`.
    pub reported: u64,
    pub read_units: f64,
    pub write_units: f64,
    /// `CapacityUnits` when the service reports only the total.
    pub capacity_units: f64,
    /// Answers that were errors (e.g. a lost condition).
    pub errors: u64,
    /// Capacity by DynamoDB's published rules, from the request itself: a read of up to 4 KB is
    /// 1 RCU strongly consistent, 0.5 eventually consistent; a write of up to 1 KB is 1 WCU per
    /// started KB; a transactional write is 2 WCU per started KB of each item.
    pub rule_read_units: f64,
    pub rule_write_units: f64,
}

#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub by_operation: BTreeMap<String, OperationTally>,
}

impl Tally {
    pub fn requests(&self) -> u64 {
        self.by_operation.values().map(|t| t.requests).sum()
    }
}

/// The interceptor; clone the `Arc<Mutex<Tally>>` before handing it to the client config.
#[derive(Debug, Clone, Default)]
pub struct CountingInterceptor {
    pub tally: Arc<Mutex<Tally>>,
}

impl CountingInterceptor {
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.lock().unwrap())
    }

    fn add_capacity(&self, operation: &str, capacity: &[ConsumedCapacity]) {
        let mut tally = self.tally.lock().unwrap();
        let t = tally.by_operation.entry(operation.to_owned()).or_default();
        t.reported += 1;
        for c in capacity {
            t.read_units += c.read_capacity_units().unwrap_or(0.0);
            t.write_units += c.write_capacity_units().unwrap_or(0.0);
            t.capacity_units += c.capacity_units().unwrap_or(0.0);
        }
    }
}

/// Write units of an item: its size (attribute names and values, as DynamoDB counts them) in started KB.
fn write_units(
    item: Option<&std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>,
) -> f64 {
    fn size(v: &aws_sdk_dynamodb::types::AttributeValue) -> usize {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        match v {
            A::S(s) => s.len(),
            A::N(n) => n.len().div_ceil(2) + 1,
            A::Bool(_) | A::Null(_) => 1,
            A::M(m) => 3 + m.iter().map(|(k, v)| k.len() + size(v) + 1).sum::<usize>(),
            A::L(l) => 3 + l.iter().map(|v| size(v) + 1).sum::<usize>(),
            A::Ss(s) => s.iter().map(String::len).sum(),
            _ => 16,
        }
    }
    let bytes: usize = item.map_or(0, |i| i.iter().map(|(k, v)| k.len() + size(v)).sum());
    (bytes.max(1) as f64 / 1024.0).ceil()
}

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_owned())
        .unwrap_or_else(|| "?".into())
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "CountingInterceptor"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        let total = Some(ReturnConsumedCapacity::Total);
        let read = |consistent: Option<bool>| if consistent == Some(true) { 1.0 } else { 0.5 };
        let (mut r, mut w) = (0.0, 0.0);
        if let Some(i) = input.downcast_mut::<GetItemInput>() {
            i.return_consumed_capacity = total;
            r = read(i.consistent_read);
        } else if let Some(i) = input.downcast_mut::<PutItemInput>() {
            i.return_consumed_capacity = total;
            w = write_units(i.item.as_ref());
        } else if let Some(i) = input.downcast_mut::<UpdateItemInput>() {
            i.return_consumed_capacity = total;
            w = 1.0;
        } else if let Some(i) = input.downcast_mut::<QueryInput>() {
            i.return_consumed_capacity = total;
            r = read(i.consistent_read);
        } else if let Some(i) = input.downcast_mut::<TransactWriteItemsInput>() {
            i.return_consumed_capacity = total;
            for item in i.transact_items.iter().flatten() {
                w += 2.0 * item.put().map_or(1.0, |p| write_units(Some(p.item())));
            }
        }
        let op = operation(cfg);
        let mut tally = self.tally.lock().unwrap();
        let t = tally.by_operation.entry(op).or_default();
        t.rule_read_units += r;
        t.rule_write_units += w;
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation(cfg);
        self.tally
            .lock()
            .unwrap()
            .by_operation
            .entry(op)
            .or_default()
            .requests += 1;
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation(cfg);
        match context.output_or_error() {
            Some(Ok(output)) => {
                let one = |c: Option<&ConsumedCapacity>| c.cloned().into_iter().collect::<Vec<_>>();
                let capacity = if let Some(o) = output.downcast_ref::<GetItemOutput>() {
                    Some(one(o.consumed_capacity()))
                } else if let Some(o) = output.downcast_ref::<PutItemOutput>() {
                    Some(one(o.consumed_capacity()))
                } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
                    Some(one(o.consumed_capacity()))
                } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
                    Some(one(o.consumed_capacity()))
                } else {
                    output
                        .downcast_ref::<TransactWriteItemsOutput>()
                        .map(|o| o.consumed_capacity().to_vec())
                };
                if let Some(c) = capacity.filter(|c| !c.is_empty()) {
                    self.add_capacity(&op, &c);
                }
            }
            Some(Err(_)) => {
                self.tally
                    .lock()
                    .unwrap()
                    .by_operation
                    .entry(op)
                    .or_default()
                    .errors += 1
            }
            None => {}
        }
        Ok(())
    }
}
