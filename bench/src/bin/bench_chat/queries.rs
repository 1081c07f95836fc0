//! The conversation list and a page of messages over HTTP, next to the same SQL run bare
//! (sqlx on the same server, no HTTP, no token, no JSON): the query API's own overhead.

use std::future::Future;
use std::time::{Duration, Instant};

use bench::services::Apis;
use bench::Latencies;
use query_api::chat::store::{CONVERSATIONS, MESSAGES};
use sqlx::PgPool;

use crate::{header, row, seed, Config};

/// The user whose conversations are read (only in the views: no events of theirs).
const READER: &str = "carol";
/// Untimed requests before each figure (connections, caches, plans).
const WARM_UP: usize = 50;

pub async fn run(pool: &PgPool, apis: &Apis, config: &Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let middle = seed::chat_views(pool, READER, config.conversations, config.view_messages).await?;
    let per_conversation = config.view_messages / config.conversations;
    bench::write(&format!(
        "\nqueries: {} conversations of {READER}, {} messages in the views ({per_conversation} each), seeded in {:.1} s\n",
        config.conversations,
        per_conversation * config.conversations,
        started.elapsed().as_secs_f64()
    ))?;
    let client = tokio::sync::Mutex::new(bench::services::RawClient::connect(apis, READER).await?);
    let n = config.queries;
    let before = (per_conversation / 2).max(1);

    let list_path = "/v1/conversations?limit=20";
    let list_sql = || bare(conversations().fetch_all(pool));
    let (list_http, list_sql_first) = paired(
        n,
        || async { client.lock().await.timed_get(list_path).await },
        list_sql,
    )
    .await?;
    // The same request without HTTP: the query API's router called in this process.
    let router = bench::services::query_router(pool).await?;
    let token = bench::dev_token(READER)?;
    let (list_in_process, list_sql_again) = paired(
        n,
        || bench::services::timed_in_process(&router, &token, list_path),
        list_sql,
    )
    .await?;
    let page_path = format!("/v1/conversations/{middle}/messages?limit=50");
    let (page_http, page_sql) = paired(
        n,
        || async { client.lock().await.timed_get(&page_path).await },
        || bare(messages(&middle, i64::MAX).fetch_all(pool)),
    )
    .await?;
    let older_path = format!("{page_path}&before={before}");
    let (older_http, older_sql) = paired(
        n,
        || async { client.lock().await.timed_get(&older_path).await },
        || bare(messages(&middle, before).fetch_all(pool)),
    )
    .await?;

    // The least any HTTP answer of the list's SQL costs here: the statement behind the
    // same server with nothing else (see `serve_list_sql`).
    let floor_client =
        bench::services::RawClient::connect_to(&serve_list_sql(pool).await?, READER).await?;
    let floor_client = tokio::sync::Mutex::new(floor_client);
    let (list_floor, list_sql_floor) = paired(
        n,
        || async { floor_client.lock().await.timed_get("/").await },
        list_sql,
    )
    .await?;

    // What HTTP alone costs here: a request that reads nothing (no token, no SQL).
    let (healthz, _) = paired(
        n,
        || async { client.lock().await.timed_get("/healthz").await },
        || async { Ok(Duration::ZERO) },
    )
    .await?;

    // Two threads that sleep between messages, and no work: the cost of the hand-offs an
    // HTTP answer adds to its SQL (client to service, Postgres to service). Measured
    // last: a new runtime's threads can change where the scheduler puts the others.
    let echo = tokio::sync::Mutex::new(bench::services::Echo::start().await?);
    let request = [b'x'; 200];
    let (hand_off, _) = paired(
        n,
        || async { echo.lock().await.timed_round_trip(&request).await },
        || bare(conversations().fetch_all(pool)),
    )
    .await?;

    let mut text = header("query latency (one client; ratio to the bare SQL behind each)");
    for (what, http, sql) in [
        ("conversation list, first 20", &list_http, &list_sql_first),
        ("messages, newest 50", &page_http, &page_sql),
        ("messages, 50 before the middle", &older_http, &older_sql),
    ] {
        text.push_str(&row(&format!("bare SQL: {what} (baseline)"), sql, sql));
        text.push_str(&row(&format!("HTTP GET: {what}"), http, sql));
    }
    text.push_str(&row(
        "list SQL behind HTTP alone, no token/decode/JSON (floor)",
        &list_floor,
        &list_sql_floor,
    ));
    text.push_str(&row(
        "list without HTTP: the router in-process (to its bare SQL)",
        &list_in_process,
        &list_sql_again,
    ));
    text.push_str(&row(
        "HTTP GET /healthz: the HTTP round trip alone (to list SQL)",
        &healthz,
        &list_sql_first,
    ));
    text.push_str(&row(
        "TCP echo between two sleeping threads (to list SQL)",
        &hand_off,
        &list_sql_first,
    ));
    text.push_str("target: each HTTP median < 1.5 x its bare SQL median\n");
    bench::write(&text)
}

/// Starts the floor under any HTTP answer of the list's SQL: on a runtime and a pool of
/// its own, as the query API runs ([`bench::services::service_pool`]), the query API's server (`http_api::serve`) with one
/// route, which runs the list's statement and answers its row count: no layers, no
/// token, no decoding of the rows' columns, no JSON. Its base URL.
async fn serve_list_sql(pool: &PgPool) -> anyhow::Result<String> {
    let options = pool.connect_options().as_ref().clone();
    bench::services::on_own_runtime("floor", move || async move {
        let pool = bench::services::service_pool(options).await?;
        let router = axum::Router::new()
            .route("/", axum::routing::get(count_conversations))
            .with_state(pool);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let server = http_api::serve(http_api::listen::no_delay(listener), router);
        tokio::spawn(server.with_graceful_shutdown(std::future::pending()));
        Ok(base)
    })
    .await
}

async fn count_conversations(
    axum::extract::State(pool): axum::extract::State<PgPool>,
) -> Result<String, axum::http::StatusCode> {
    let rows = conversations()
        .fetch_all(&pool)
        .await
        .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(rows.len().to_string())
}

/// The list's SQL, as the query API runs it for the first page of 20.
fn conversations<'q>() -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(CONVERSATIONS)
        .bind(READER)
        .bind(i64::MAX)
        .bind(20_i64)
}

fn messages<'q>(
    conversation: &'q str,
    before: i64,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(MESSAGES)
        .bind(conversation)
        .bind(READER)
        .bind(before)
        .bind(50_i64)
}

/// Times a bare query from sending it to its last row.
async fn bare<T>(
    query: impl Future<Output = Result<Vec<T>, sqlx::Error>>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let rows = query.await?;
    anyhow::ensure!(!rows.is_empty(), "the bare query found nothing");
    Ok(started.elapsed())
}

/// `n` timed runs each of `first` and `second`, alternating which goes first, after
/// [`WARM_UP`] untimed ones: both see the same machine.
async fn paired<A, FutA, B, FutB>(
    n: usize,
    first: A,
    second: B,
) -> anyhow::Result<(Latencies, Latencies)>
where
    A: Fn() -> FutA,
    FutA: Future<Output = anyhow::Result<Duration>>,
    B: Fn() -> FutB,
    FutB: Future<Output = anyhow::Result<Duration>>,
{
    for _ in 0..WARM_UP {
        first().await?;
        second().await?;
    }
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        if i % 2 == 0 {
            a.push(first().await?);
            b.push(second().await?);
        } else {
            b.push(second().await?);
            a.push(first().await?);
        }
    }
    Ok((Latencies::new(a), Latencies::new(b)))
}
