# syntax=docker/dockerfile:1
# qvt's image: the static binary deploy/build.sh makes, on distroless (no
# shell, no package manager), run as a non-root user, with the store in
# the volume /data.
#
#   docker build --build-arg QVT_COMMIT=$(git rev-parse HEAD) -t qvt .
#   docker run -d --name qvt -p 127.0.0.1:8080:8080 -v /srv/qvt:/data \
#     --env-file /etc/qvt/qvt.env qvt serve --schedule @daily
#
# /srv/qvt must be writable by uid 65532 (chown 65532:65532 /srv/qvt).

FROM golang:1.26 AS build
WORKDIR /src
# The modules first, so that a change to the code does not fetch them again.
COPY go.mod go.sum ./
COPY third_party/ third_party/
RUN go mod download
COPY . .
# The build context has no .git: the commit is a build argument, and the
# build stops without it (qvt version names the commit of every build).
ARG QVT_COMMIT
ARG QVT_VERSION
ARG QVT_BUILD_DATE
RUN deploy/build.sh /out/qvt && /out/qvt version
# The store's folder, owner-only like everything qvt writes.
RUN mkdir -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/qvt /usr/local/bin/qvt
COPY --from=build --chown=65532:65532 /out/data /data
# distroless' "nonroot" user.
USER 65532:65532
ENV QVT_DB=/data/qvt.db \
    QVT_WEB_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
# On 0.0.0.0 qvt serve requires a login: set QVT_WEB_TOKEN, or
# QVT_WEB_USER and QVT_WEB_PASSWORD (12 characters or more). /healthz
# needs none, and distroless has no curl: qvt asks itself.
HEALTHCHECK --interval=30s --timeout=10s --start-period=1m --retries=3 \
  CMD ["/usr/local/bin/qvt", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/qvt"]
CMD ["serve"]
