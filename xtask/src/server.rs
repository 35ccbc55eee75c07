//! A small static file server for the site: 127.0.0.1 only, GET and HEAD, the right MIME
//! types (`application/wasm` for streaming compilation), folders redirect to their slash
//! form so relative URLs resolve, nothing outside the root is served. Responses carry an
//! ETag and `Cache-Control: no-cache`, so browsers revalidate (a 304 without a body) as
//! they do with common static hosts, and are gzip-compressed for browsers that accept it,
//! as GitHub Pages, Netlify and Cloudflare do (wasm shrinks to a third). It counts the
//! bytes it sends (for first-visit figures).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Server {
    port: u16,
    sent: Arc<AtomicU64>,
}

impl Server {
    /// Serves `root` on 127.0.0.1:`port` (0 picks a free port) from a background thread.
    pub fn start(root: &Path, port: u16) -> Result<Server, String> {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let port = listener.local_addr().unwrap().port();
        let root = root.to_path_buf();
        // compressed once before serving, as a host's cache would hold them
        precompress(&root);
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, counter) = (root.clone(), counter.clone());
                std::thread::spawn(move || {
                    let _ = respond(&root, Counted { stream, counter });
                });
            }
        });
        Ok(Server { port, sent })
    }

    /// Bytes sent so far (headers and bodies).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A connection that adds what is written to it to a counter.
struct Counted {
    stream: TcpStream,
    counter: Arc<AtomicU64>,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.stream.write(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn respond(root: &Path, mut stream: Counted) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let (mut if_none_match, mut gzip) = (None, false);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(value.trim().to_string());
            }
            if name.eq_ignore_ascii_case("accept-encoding") && value.contains("gzip") {
                gzip = true;
            }
        }
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    if method != "GET" && method != "HEAD" {
        return reply(&mut stream, "405 Method Not Allowed", "text/plain", b"only GET and HEAD", true);
    }
    let path = percent_decode(target.split(['?', '#']).next().unwrap_or("/"));
    let relative = Path::new(path.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return reply(&mut stream, "404 Not Found", "text/plain", b"not found", method == "GET");
    }
    let mut file: PathBuf = root.join(relative);
    if file.is_dir() {
        if !path.ends_with('/') {
            let location = format!("{path}/");
            let head = format!(
                "HTTP/1.1 301 Moved Permanently\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return stream.write_all(head.as_bytes());
        }
        file = file.join("index.html");
    }
    match std::fs::read(&file) {
        Ok(body) => {
            let etag = etag_of(&body);
            if if_none_match.as_deref() == Some(etag.as_str()) {
                let head =
                    format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
                return stream.write_all(head.as_bytes());
            }
            if gzip {
                let compressed = gzipped(&etag, &body);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\
                     Cache-Control: no-cache\r\nETag: {etag}\r\nVary: Accept-Encoding\r\n{SITE_HEADERS}Connection: close\r\n\r\n",
                    mime(&file),
                    compressed.len()
                );
                stream.write_all(head.as_bytes())?;
                if method == "GET" {
                    stream.write_all(&compressed)?;
                }
                return stream.flush();
            }
            reply_tagged(&mut stream, "200 OK", mime(&file), &body, method == "GET", &etag)
        }
        Err(_) => reply(&mut stream, "404 Not Found", "text/plain", b"not found", method == "GET"),
    }
}

fn reply(stream: &mut impl Write, status: &str, content_type: &str, body: &[u8], with_body: bool) -> std::io::Result<()> {
    reply_tagged(stream, status, content_type, body, with_body, "")
}

fn reply_tagged(
    stream: &mut impl Write,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
    etag: &str,
) -> std::io::Result<()> {
    let etag = if etag.is_empty() { String::new() } else { format!("ETag: {etag}\r\n") };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\n{etag}\
         {SITE_HEADERS}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}

/// Cross-origin isolation, for the page's wasm threads, and the strict Content-Security-Policy
/// the page is tested under (the `_headers` file says the same: `site::HEADERS`).
const SITE_HEADERS: &str = concat!(
    "Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\n",
    "Content-Security-Policy: ",
    include_str!("csp.txt"),
    "\r\n"
);

fn precompress(dir: &Path) {
    for path in std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()) {
        if path.is_dir() {
            precompress(&path);
        } else if let Ok(body) = std::fs::read(&path) {
            gzipped(&etag_of(&body), &body);
        }
    }
}

fn etag_of(body: &[u8]) -> String {
    format!("\"{:016x}\"", body.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3)))
}

/// `body` gzip-compressed, remembered by ETag (the weights take a moment to compress).
fn gzipped(etag: &str, body: &[u8]) -> Arc<Vec<u8>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static DONE: OnceLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = OnceLock::new();
    let done = DONE.get_or_init(Default::default);
    if let Some(found) = done.lock().unwrap().get(etag) {
        return found.clone();
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).expect("writing to memory");
    let compressed = Arc::new(encoder.finish().expect("writing to memory"));
    done.lock().unwrap().insert(etag.to_string(), compressed.clone());
    compressed
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
