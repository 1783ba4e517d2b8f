# syncd: a small image running as a non-root user.
# Build: docker build -t syncd .   Run: docker run -e SYNCD_API_KEY=... -v /etc/syncd:/etc/syncd syncd
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/runtime.lock ./requirements/
# The pinned, hashed production set first (no embedded Radicale, no test tools), then syncd.
RUN python -m pip install --no-cache-dir --disable-pip-version-check --prefix=/install \
    --require-hashes -r requirements/runtime.lock
COPY syncd ./syncd
COPY connectors ./connectors
RUN python -m pip install --no-cache-dir --disable-pip-version-check --prefix=/install --no-deps .

FROM python:3.11-slim
# syncd's home holds its SQLite database and mail folder: nobody else may read it
RUN useradd --system --create-home --home-dir /var/lib/syncd syncd \
 && chmod 0700 /var/lib/syncd
COPY --from=build /install /usr/local
COPY config/syncd.example.toml /etc/syncd/syncd.toml
USER syncd
WORKDIR /var/lib/syncd
# Inside the container both listeners face the container's network; publish 9464 privately.
ENV PYTHONUNBUFFERED=1 SYNCD_API__HOST=0.0.0.0 SYNCD_METRICS__HOST=0.0.0.0
EXPOSE 8080 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)" || exit 1
ENTRYPOINT ["syncd", "--config", "/etc/syncd/syncd.toml"]
CMD ["run"]
