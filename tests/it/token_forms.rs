//! Request and change tokens are keyed by their UUID in the database; at
//! the edges they stay exactly the strings AWS's patterns allow. A token is
//! found only in the form it was handed out in (lowercase, hyphenated):
//! its upper-case spelling, its hyphenless spelling and strings that are no
//! UUID at all are valid input and are answered as unknown tokens, never as
//! invalid input or a server error; the string a caller gets back is the
//! string it was given.

use aws_sdk_cloudcontrol::error::ProvideErrorMetadata;
use tonic::Code;

use crate::backend_tests;
use crate::common::grpc_errors::assert_error;
use crate::common::{ACCOUNT, Backend, TYPE_NAME, TestApp, TestDatabase};
use crate::common::{change_tokens, resource_requests};

/// The default region, which gRPC calls that name none are in.
const REGION: &str = "us-east-1";

/// Strings the patterns allow that name no token handed out as `token`.
fn other_spellings(token: &str) -> Vec<String> {
    vec![
        token.to_uppercase(),
        token.replace('-', ""),
        token[..35].to_owned(),
        "not-a-uuid".to_owned(),
        "YWJj+/=".to_owned(),
        "A".repeat(128),
    ]
}

fn is_lowercase_hyphenated_uuid(token: &str) -> bool {
    uuid::Uuid::try_parse(token).is_ok_and(|parsed| parsed.hyphenated().to_string() == token)
}

async fn request_tokens_answer_in_the_form_they_were_handed_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.sdk(ACCOUNT, REGION).cloudcontrol();
    let created = client
        .create_resource()
        .type_name(TYPE_NAME)
        .desired_state(r#"{"LogGroupName":"token-forms"}"#)
        .send()
        .await
        .expect("CreateResource");
    let token = created
        .progress_event
        .and_then(|event| event.request_token)
        .expect("a request token");
    assert!(is_lowercase_hyphenated_uuid(&token), "{token}");

    let status = client
        .get_resource_request_status()
        .request_token(&token)
        .send()
        .await
        .expect("GetResourceRequestStatus");
    let event = status.progress_event.expect("a progress event");
    assert_eq!(event.request_token.as_deref(), Some(token.as_str()));
    let listed = client
        .list_resource_requests()
        .send()
        .await
        .expect("ListResourceRequests");
    let listed: Vec<_> = listed
        .resource_request_status_summaries()
        .iter()
        .filter_map(|summary| summary.request_token.clone())
        .collect();
    assert_eq!(listed, std::slice::from_ref(&token));

    let mut grpc = app.resource_requests().await;
    for other in other_spellings(&token) {
        let error = client
            .get_resource_request_status()
            .request_token(&other)
            .send()
            .await
            .expect_err("another spelling is another token")
            .into_service_error();
        assert!(
            error.is_request_token_not_found_exception(),
            "{other}: {error:?}"
        );
        assert_eq!(
            error.message(),
            Some(format!("Request with token {other} was not found").as_str())
        );
        let error = client
            .cancel_resource_request()
            .request_token(&other)
            .send()
            .await
            .expect_err("another spelling is another token")
            .into_service_error();
        assert!(
            error.is_request_token_not_found_exception(),
            "{other}: {error:?}"
        );

        let status = resource_requests::status_of(&mut grpc, ACCOUNT, &other)
            .await
            .expect_err("another spelling is another token");
        assert_error(&status, Code::NotFound, "RequestTokenNotFoundException");
        let status = resource_requests::record(
            &mut grpc,
            resource_requests::report(&other, statusgate::grpc::proto::OperationStatus::Success),
        )
        .await
        .expect_err("another spelling is another token");
        assert_error(&status, Code::NotFound, "RequestTokenNotFoundException");
    }
    // The request itself is untouched by all of that.
    let event = client
        .get_resource_request_status()
        .request_token(&token)
        .send()
        .await
        .expect("the request")
        .progress_event
        .expect("a progress event");
    assert_eq!(event.request_token.as_deref(), Some(token.as_str()));
    assert_eq!(
        event.operation_status,
        Some(aws_sdk_cloudcontrol::types::OperationStatus::Pending)
    );
}

async fn change_tokens_answer_in_the_form_they_were_handed_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let waf = app.sdk(ACCOUNT, "us-east-1").waf();
    let token = waf
        .get_change_token()
        .send()
        .await
        .expect("GetChangeToken")
        .change_token
        .expect("a change token");
    assert!(is_lowercase_hyphenated_uuid(&token), "{token}");
    let again = waf
        .get_change_token()
        .send()
        .await
        .expect("GetChangeToken")
        .change_token;
    assert_eq!(again.as_deref(), Some(token.as_str()), "still outstanding");

    let mut grpc = app.change_tokens().await;
    // Change tokens may hold any non-blank text, braces included.
    let mut spellings = other_spellings(&token);
    spellings.push(format!("{{{token}}}"));
    for other in spellings {
        let error = waf
            .get_change_token_status()
            .change_token(&other)
            .send()
            .await
            .expect_err("another spelling is another token")
            .into_service_error();
        assert!(
            error.is_waf_nonexistent_item_exception(),
            "{other}: {error:?}"
        );
        let status = change_tokens::status_of(&mut grpc, change_tokens::global(ACCOUNT), &other)
            .await
            .expect_err("another spelling is another token");
        assert_error(&status, Code::NotFound, "WAFNonexistentItemException");
        let status = change_tokens::consume(&mut grpc, change_tokens::global(ACCOUNT), &other)
            .await
            .expect_err("another spelling is another token");
        assert_error(&status, Code::NotFound, "WAFNonexistentItemException");
    }
    let status = waf
        .get_change_token_status()
        .change_token(&token)
        .send()
        .await
        .expect("GetChangeTokenStatus");
    assert_eq!(
        status.change_token_status,
        Some(aws_sdk_waf::types::ChangeTokenStatus::Provisioned)
    );
}

/// The last migration before tokens became keys.
const TEXT_TOKENS_SCHEMA: i64 = 6;

/// What a database of the text-token schema holds, written as that schema's
/// statusgate wrote it: a request with two events, and a used change token.
const TEXT_TOKEN_ROWS: [&str; 4] = [
    "INSERT INTO resource_requests (request_token, account_id, region, created_at, operation, \
       type_name, desired_state, operation_status, event_time, event_count) \
     VALUES ('5f0c7c1e-8d2a-4b7e-9a41-0c2f5e6d7a81', '111122223333', 'eu-west-1', 1000, \
       'CREATE', 'AWS::Logs::LogGroup', '{\"LogGroupName\":\"old\"}', 'IN_PROGRESS', 2000, 2)",
    "INSERT INTO progress_events (request_token, seq, operation_status, event_time) \
     VALUES ('5f0c7c1e-8d2a-4b7e-9a41-0c2f5e6d7a81', 1, 'PENDING', 1000)",
    "INSERT INTO progress_events (request_token, seq, operation_status, event_time) \
     VALUES ('5f0c7c1e-8d2a-4b7e-9a41-0c2f5e6d7a81', 2, 'IN_PROGRESS', 2000)",
    "INSERT INTO change_tokens (change_token, account_id, endpoint, region, status, \
       change_description, created_at, consumed_at) \
     VALUES ('0d6f1b2a-3c4e-4f50-8a6b-7c8d9e0f1a2b', '111122223333', 'GLOBAL', '', 'PENDING', \
       'UpdateIPSet', 1000, 1500)",
];

/// Migrates `database` up to [`TEXT_TOKENS_SCHEMA`] only, runs `writes`,
/// and answers the count `count` selects.
async fn on_text_schema(
    backend: Backend,
    database: &TestDatabase,
    writes: &[&str],
    count: &str,
) -> i64 {
    let mut migrator = match backend {
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
    };
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|migration| migration.version <= TEXT_TOKENS_SCHEMA)
        .cloned()
        .collect();
    match backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for statement in writes {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            let counted = sqlx::query_scalar(count).fetch_one(&pool).await.unwrap();
            pool.close().await;
            counted
        }
        Backend::Sqlite => {
            let options = database
                .url()
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for statement in writes {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            let counted = sqlx::query_scalar(count).fetch_one(&pool).await.unwrap();
            pool.close().await;
            counted
        }
    }
}

async fn tokens_written_as_text_keep_their_strings_through_the_migration(backend: Backend) {
    use statusgate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus};
    use statusgate::domain::resource::AccountRegion;
    use statusgate::domain::resource_request::OperationStatus;
    use statusgate::domain::values::{ChangeToken, Region, RequestToken};
    use statusgate::domain::{AccountId, Timestamp};

    let database = TestDatabase::new(backend).await;
    let requests = on_text_schema(
        backend,
        &database,
        &TEXT_TOKEN_ROWS,
        "SELECT count(*) FROM resource_requests",
    )
    .await;
    assert_eq!(requests, 1);
    let store =
        statusgate::app::open_store(&statusgate::config::Config::for_database(database.url()))
            .await
            .expect("the store opens and migrates");

    let account = AccountId::parse("111122223333").unwrap();
    let scope = AccountRegion {
        account: account.clone(),
        region: Region::parse("eu-west-1").unwrap(),
    };
    let since = Timestamp::from_micros(0);
    let request = RequestToken::parse("5f0c7c1e-8d2a-4b7e-9a41-0c2f5e6d7a81").unwrap();
    let status = store
        .get_resource_request_status(&scope, &request, since)
        .await
        .expect("the request survives");
    assert_eq!(status.current.request_token, request.as_str());
    assert_eq!(status.current.operation_status, OperationStatus::InProgress);
    let history = store
        .list_progress_events(&scope, &request, since)
        .await
        .expect("its history survives");
    let statuses: Vec<_> = history.iter().map(|event| event.operation_status).collect();
    assert_eq!(
        statuses,
        [OperationStatus::Pending, OperationStatus::InProgress]
    );
    assert!(
        history
            .iter()
            .all(|event| event.request_token == request.as_str())
    );

    let change_token = ChangeToken::parse("0d6f1b2a-3c4e-4f50-8a6b-7c8d9e0f1a2b").unwrap();
    let status = store
        .change_token_status(&ChangeTokenScope::global(account), &change_token, since)
        .await
        .expect("the change token survives");
    assert_eq!(status, ChangeTokenStatus::Pending);
    store.close().await;
}

async fn a_text_token_that_is_no_lowercase_uuid_stops_the_migration(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let written_by_hand = "INSERT INTO change_tokens (change_token, account_id, endpoint, region, \
        status, created_at) VALUES ('Hand-Written', '111122223333', 'GLOBAL', '', 'PENDING', 1)";
    let hand_written = "SELECT count(*) FROM change_tokens WHERE change_token = 'Hand-Written'";
    assert_eq!(
        on_text_schema(backend, &database, &[written_by_hand], hand_written).await,
        1
    );
    let config = statusgate::config::Config::for_database(database.url());
    assert!(
        statusgate::app::open_store(&config).await.is_err(),
        "converting the row would lose its string"
    );
    // Nothing changed: the schema is still the text one (migrating to it
    // again finds nothing newer applied), the row still there.
    assert_eq!(
        on_text_schema(backend, &database, &[], hand_written).await,
        1
    );
}

backend_tests!(
    request_tokens_answer_in_the_form_they_were_handed_out,
    change_tokens_answer_in_the_form_they_were_handed_out,
    tokens_written_as_text_keep_their_strings_through_the_migration,
    a_text_token_that_is_no_lowercase_uuid_stops_the_migration,
);
