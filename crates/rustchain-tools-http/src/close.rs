//! `Connection: close` on replies that leave their request's body unread.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use axum::body::{Body, Bytes};
use http::{HeaderValue, Request, Response, header};
use http_body::{Frame, SizeHint};
use tower::{Layer, Service};

/// Wraps a service in [`CloseUnread`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CloseUnreadLayer;

impl<S> Layer<S> for CloseUnreadLayer {
    type Service = CloseUnread<S>;

    fn layer(&self, inner: S) -> CloseUnread<S> {
        CloseUnread { inner }
    }
}

/// Adds `Connection: close` to every reply whose request body had not been
/// read to its end when the reply was made.
#[derive(Debug, Clone)]
pub struct CloseUnread<S> {
    inner: S,
}

impl<S, B> Service<Request<Body>> for CloseUnread<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let finished = Arc::new(AtomicBool::new(http_body::Body::is_end_stream(
            request.body(),
        )));
        let request = request.map(|body| {
            Body::new(WatchedBody {
                body,
                finished: Arc::clone(&finished),
            })
        });
        let reply = self.inner.call(request);
        Box::pin(async move {
            let mut response = reply.await?;
            if !finished.load(Ordering::Acquire) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        })
    }
}

/// A request body that notes when it has been read to its end.
struct WatchedBody {
    body: Body,
    finished: Arc<AtomicBool>,
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.body.is_end_stream(),
            _ => false,
        };
        if ended {
            self.finished.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
