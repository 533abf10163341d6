#!/usr/bin/env python3
"""moto_server (the AWS emulator the tests speak to over the wire) with DynamoDB's transactions
made atomic and isolated, as real DynamoDB's are.

moto 5.2.5's TransactWriteItems deep-copies every table it names and, when the transaction is
cancelled, puts those copies back: any item another client wrote meanwhile is erased (and with a
stream on the table, each copy duplicates every stream record: gigabytes under load). Here every
DynamoDB write runs under one lock, and a transaction evaluates all its conditions first: if one
fails it is cancelled (TransactionCanceledException with the per-item reasons, ALL_OLD when asked)
before anything is written, so there is nothing to restore and no table is copied. Reads take the
same lock: moto applies an UpdateItem to the stored item step by step, and an unlocked read could
see it half written. Nothing else of moto changes.

Usage: scripts/moto-server.py -H 127.0.0.1 -p PORT   (the arguments of moto_server)
"""
import copy
import sys
import threading

from moto.dynamodb import models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import ConditionalCheckFailed, TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

LOCK = threading.RLock()


class _NoTableCopies:
    """`copy` for moto.dynamodb.models: tables are not copied (nothing is ever restored)."""

    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, Table) else copy.deepcopy(x, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


models.copy = _NoTableCopies()

_transact_write_items = DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    with LOCK:
        reasons, cancelled = [], False
        for item in transact_items:
            op_type, op = next(iter(item.items()))
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            current = self.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            holds = condition is None or get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current)
            if holds:
                reasons.append((None, None, None))
            else:
                cancelled = True
                old = current.to_json()["Attributes"] if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None
                reasons.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
        if cancelled:
            raise TransactionCanceledException(reasons)
        return _transact_write_items(self, transact_items)


DynamoDBBackend.transact_write_items = transact_write_items


def _locked(method):
    def run(self, *args, **kwargs):
        with LOCK:
            return method(self, *args, **kwargs)

    return run


# Reads too: moto's UpdateItem changes an item in place (a new item is inserted with its key, then
# each SET applied), so an unlocked read could see an item half written.
for _name in ("put_item", "update_item", "delete_item", "get_item", "query", "scan", "batch_get_item"):
    setattr(DynamoDBBackend, _name, _locked(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main())
