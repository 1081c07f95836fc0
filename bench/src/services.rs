//! The command and query APIs, in this process on loopback ports, and an HTTP client
//! for them that signs development tokens: the real services over real HTTP, without
//! the start-up of the whole system.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// The two HTTP APIs, running.
pub struct Apis {
    pub commands: String,
    pub queries: String,
    pub http: reqwest::Client,
}

impl Apis {
    /// Starts both APIs on a pool of their own to `pool`'s database, trusting development
    /// tokens, on a runtime of their own in a thread of its own: as in a deployment, the
    /// services do not share their scheduler or connections with their client (the
    /// benchmark), whose timings would otherwise include the other's work.
    pub async fn start(pool: &PgPool) -> anyhow::Result<Self> {
        let options = pool.connect_options().as_ref().clone();
        let (commands, queries) = on_own_runtime("services", move || serve(options)).await?;
        Ok(Self {
            commands,
            queries,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
        })
    }

    /// A client acting as `user`.
    pub fn as_user(&self, user: &str) -> anyhow::Result<Caller<'_>> {
        let token = crate::dev_token(user)?;
        Ok(Caller { apis: self, token })
    }
}

/// Requests as one user.
pub struct Caller<'a> {
    apis: &'a Apis,
    token: String,
}

impl Caller<'_> {
    /// Posts the command `name` with `body`; fails unless it is accepted.
    pub async fn command(&self, name: &str, body: &Value) -> anyhow::Result<Value> {
        let url = format!("{}/v1/commands/{name}", self.apis.commands);
        let response = self
            .apis
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        answer(response, name).await
    }

    /// [`Self::command`], timed from sending the request to the end of the answer.
    pub async fn timed_command(&self, name: &str, body: &Value) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.command(name, body).await?;
        Ok(started.elapsed())
    }
}

/// A pool to the database `options` name, as a service opens one (no test query before
/// each use), for services the benchmarks run on a runtime of their own.
pub async fn service_pool(options: PgConnectOptions) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Binds and runs both APIs on this runtime; their base URLs.
async fn serve(options: PgConnectOptions) -> anyhow::Result<(String, String)> {
    let pool = service_pool(options).await?;
    let verifier = crate::dev_verifier().await?;
    let loopback = "127.0.0.1:0".parse()?;
    let commands = command_api::build(
        command_api::Config { addr: loopback },
        pool.clone(),
        verifier.clone(),
    )
    .await?;
    let queries = query_api::build(query_api::Config::new(loopback), pool, verifier).await?;
    let urls = (
        format!("http://{}", commands.local_addr()),
        format!("http://{}", queries.local_addr()),
    );
    tokio::spawn(commands.run(std::future::pending()));
    tokio::spawn(queries.run(std::future::pending()));
    Ok(urls)
}

/// A minimal HTTP/1.1 client on one kept-alive connection, as load tools such as `wrk` are:
/// it writes a request and reads the answer, with no connection pool or task of its own,
/// so a timing holds the service's work and the round trip, not a client library's.
pub struct RawClient {
    stream: tokio::io::BufStream<tokio::net::TcpStream>,
    token: String,
}

impl RawClient {
    /// A connection to the query API, as `user`.
    pub async fn connect(apis: &Apis, user: &str) -> anyhow::Result<Self> {
        Self::connect_to(&apis.queries, user).await
    }

    /// A connection to the service at `base` (`http://host:port`), as `user`.
    pub async fn connect_to(base: &str, user: &str) -> anyhow::Result<Self> {
        let addr = base.strip_prefix("http://").context("an http:// address")?;
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let token = crate::dev_token(user)?;
        Ok(Self {
            stream: tokio::io::BufStream::new(stream),
            token,
        })
    }

    /// `GET path`, timed from writing the request to the answer's last byte; fails unless
    /// the answer is `200` with a `Content-Length` body.
    pub async fn timed_get(&mut self, path: &str) -> anyhow::Result<Duration> {
        let answer = self.request("GET", path, None).await?;
        anyhow::ensure!(answer.status == 200, "{path}: {}", answer.status);
        Ok(answer.took)
    }

    /// `method path` with a JSON `body` if any, timed from writing the request to the
    /// answer's last byte; fails only when the connection does, or the answer has no
    /// `Content-Length` body.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> anyhow::Result<RawAnswer> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\n",
            self.token
        );
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            request.push_str("\r\n");
        }
        let started = Instant::now();
        self.stream.write_all(request.as_bytes()).await?;
        self.stream.flush().await?;
        let (mut status, mut length, mut line) = (String::new(), None, String::new());
        let mut headers = Vec::new();
        self.stream.read_line(&mut status).await?;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.to_ascii_lowercase(), value.trim().to_owned());
                if name == "content-length" {
                    length = Some(value.parse::<usize>()?);
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0; length.context("an answer without Content-Length")?];
        self.stream.read_exact(&mut body).await?;
        let took = started.elapsed();
        let status = status
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("{path}: a malformed status line {status:?}"))?;
        Ok(RawAnswer {
            status,
            headers,
            body,
            took,
        })
    }
}

/// One answer read by [`RawClient::request`].
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: u16,
    /// The headers, names in lower case, in the order they came.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From writing the request to the answer's last byte.
    pub took: Duration,
}

impl RawAnswer {
    /// The value of header `name` (lower case), if the answer has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// The query API's router on `pool` in this process, with no listener: requests go in
/// through `tower`, so what a request costs without HTTP can be timed.
pub async fn query_router(pool: &PgPool) -> anyhow::Result<axum::Router> {
    let verifier = crate::dev_verifier().await?;
    let state = query_api::AppState::new(
        pool.clone(),
        verifier,
        query_api::Config::new("127.0.0.1:0".parse()?),
    );
    Ok(query_api::router(state))
}

/// `GET path` with `token` through `router` in this process, timed to the answer's last
/// byte.
pub async fn timed_in_process(
    router: &axum::Router,
    token: &str,
    path: &str,
) -> anyhow::Result<Duration> {
    use tower::ServiceExt;
    let request = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())?;
    let started = Instant::now();
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let took = started.elapsed();
    anyhow::ensure!(status == StatusCode::OK, "{path}: {status}");
    Ok(took)
}

async fn answer(response: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("{what}: answer"))?;
    anyhow::ensure!(status == StatusCode::OK, "{what}: {status} {body}");
    Ok(body)
}

/// Runs `serve` on a multi-threaded runtime of its own, in a thread of its own, and
/// keeps what it started running there for the rest of the process; answers what `serve`
/// answered once it has started. As in a deployment, the services then share neither
/// their scheduler nor their connections with the benchmark's client.
pub async fn on_own_runtime<T, F, Fut>(name: &str, serve: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let (started, answer) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = started.send(Err(error.into()));
                    return;
                }
            };
            runtime.block_on(async move {
                let outcome = serve().await;
                let running = outcome.is_ok();
                let _ = started.send(outcome);
                if running {
                    std::future::pending::<()>().await;
                }
            });
        })?;
    answer.await?
}

/// A TCP echo server on a runtime of its own, and a client of it: the round trip between
/// two threads with no work at either end. When both sleep between messages, as a
/// client and a service do around each SQL statement, this is what waking a sleeping
/// thread twice costs on this machine.
pub struct Echo {
    stream: tokio::net::TcpStream,
}

impl Echo {
    /// Starts the server and connects to it.
    pub async fn start() -> anyhow::Result<Self> {
        let addr = on_own_runtime("echo", || async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(echo(stream));
                }
            });
            Ok(addr)
        })
        .await?;
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self { stream })
    }

    /// Sends `message` and reads it back, timed.
    pub async fn timed_round_trip(&mut self, message: &[u8]) -> anyhow::Result<Duration> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut back = vec![0; message.len()];
        let started = Instant::now();
        self.stream.write_all(message).await?;
        self.stream.read_exact(&mut back).await?;
        let took = started.elapsed();
        anyhow::ensure!(back == message, "the echo differs");
        Ok(took)
    }
}

async fn echo(mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.set_nodelay(true)?;
    let mut buffer = [0; 4096];
    loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buffer[..n]).await?;
    }
}
