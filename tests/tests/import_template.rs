//! The statements import as the SAM template deploys it: a private, encrypted, versioned bucket
//! whose old files and reports expire; the S3 event on incoming/*.csv; queues whose failures end
//! in a dead-letter queue with an alarm; limits that fit each other (a queue's visibility timeout
//! covers its function's timeout); an alarm on the log line a refusal writes.

use serde_yaml::Value;

fn template() -> Value {
    kenpo::routes::template().expect("infra/template.yaml").clone()
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    let r = &t["Resources"][id];
    assert!(r.is_mapping(), "{id} is in the template");
    r
}

/// `!GetAtt X.Arn` / `!Ref X` as `X`.
fn target(v: &Value) -> String {
    match v {
        Value::Tagged(t) => t.value.as_str().unwrap_or("").trim_end_matches(".Arn").to_owned(),
        Value::String(s) => s.trim_end_matches(".Arn").to_owned(),
        _ => String::new(),
    }
}

#[test]
fn the_import_bucket_is_private_encrypted_versioned_and_forgets_old_files() {
    let t = template();
    let bucket = resource(&t, "ImportBucket");
    assert_eq!(bucket["DeletionPolicy"], "Retain", "the society's files are not deleted with the stack");
    let p = &bucket["Properties"];
    for flag in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(p["PublicAccessBlockConfiguration"][flag], Value::Bool(true), "{flag}");
    }
    let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"];
    assert!(sse == "AES256" || sse == "aws:kms", "{sse:?}");
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    let rules = p["LifecycleConfiguration"]["Rules"].as_sequence().expect("lifecycle rules");
    for prefix in ["incoming/", "processed/", "rejected/"] {
        let rule = rules.iter().find(|r| r["Prefix"] == prefix).unwrap_or_else(|| panic!("a rule for {prefix}"));
        assert_eq!(rule["Status"], "Enabled");
        assert!(rule["ExpirationInDays"] != Value::Null, "{prefix} expires");
    }
    assert!(rules.iter().any(|r| r["NoncurrentVersionExpiration"]["NoncurrentDays"].as_u64().is_some_and(|d| d <= 90)), "replaced versions expire");
}

#[test]
fn an_upload_to_incoming_starts_the_check_pass_and_only_it() {
    let t = template();
    let f = resource(&t, "ImportStatementsFunction");
    let events = f["Properties"]["Events"].as_mapping().unwrap();
    let s3: Vec<&Value> = events.values().filter(|e| e["Type"] == "S3").collect();
    assert_eq!(s3.len(), 1);
    assert_eq!(target(&s3[0]["Properties"]["Bucket"]), "ImportBucket");
    let rules = s3[0]["Properties"]["Filter"]["S3Key"]["Rules"].as_sequence().unwrap();
    let rule = |name: &str| rules.iter().find(|r| r["Name"] == name).map(|r| r["Value"].as_str().unwrap_or("").to_owned());
    assert_eq!((rule("prefix"), rule("suffix")), (Some(import_statements::object::INCOMING.to_owned()), Some(".csv".to_owned())));
    // A failed S3 event is kept: retried, then the dead-letter queue.
    assert_eq!(target(&f["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]), "ImportDeadLetterQueue");
    // One binary (one minute of CI link time), deployed twice: the check pass and the writers.
    let writers: Vec<&str> = t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function" && r["Metadata"]["BuildProperties"]["Binary"] == "import-statements")
        .map(|(id, _)| id.as_str().unwrap())
        .collect();
    assert_eq!(writers.len(), 2, "one binary, deployed as the check pass and the writers: {writers:?}");
}

#[test]
fn each_queue_outlasts_its_function_and_ends_in_the_dead_letter_queue_with_an_alarm() {
    let t = template();
    for (function, queue) in [("ImportStatementsFunction", "ImportWaitQueue"), ("ApplyStatementsFunction", "ImportChunkQueue")] {
        let f = resource(&t, function);
        let timeout = f["Properties"]["Timeout"].as_u64().expect("a timeout of its own");
        assert!(timeout <= 900);
        let q = &resource(&t, queue)["Properties"];
        assert!(q["VisibilityTimeout"].as_u64().unwrap() >= timeout, "{queue}: a message is not delivered again while its function may still run");
        assert_eq!(target(&q["RedrivePolicy"]["deadLetterTargetArn"]), "ImportDeadLetterQueue");
        assert!(q["SqsManagedSseEnabled"] == Value::Bool(true));
        let sqs = f["Properties"]["Events"].as_mapping().unwrap().values().find(|e| e["Type"] == "SQS").unwrap_or_else(|| panic!("{function} reads {queue}"));
        assert_eq!(target(&sqs["Properties"]["Queue"]), queue);
        assert_eq!(sqs["Properties"]["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    }
    let alarm = &resource(&t, "ImportDeadLetterQueueAlarm")["Properties"];
    assert_eq!(alarm["Namespace"], "AWS/SQS");
}

#[test]
fn a_refused_file_raises_the_rejections_alarm() {
    let t = template();
    let filter = &resource(&t, "StatementsRejectedMetricFilter")["Properties"];
    assert_eq!(target(&filter["LogGroupName"]), "ImportStatementsLogs", "the check pass's log group");
    // The JSON log line the check pass writes for a refusal (shared/src/lambda.rs's subscriber:
    // the event's fields under "fields"), as the pattern must match it.
    assert_eq!(filter["FilterPattern"], r#"{ $.fields.code = "statements_rejected" }"#);
    let source = include_str!("../../functions/import-statements/src/check.rs");
    assert!(source.contains(r#"tracing::warn!(code = "statements_rejected""#), "the code still logs that line");
    let transformation = &filter["MetricTransformations"][0];
    let alarm = &resource(&t, "StatementsRejectedAlarm")["Properties"];
    assert_eq!(alarm["MetricName"], transformation["MetricName"]);
    assert_eq!(alarm["Namespace"], transformation["MetricNamespace"]);
    assert_eq!(alarm["Threshold"].as_u64(), Some(1));
}
