# Trustgate container image: a static binary on distroless, run as non-root.
#   docker build -t trustgate:dev --build-arg VERSION=$(git describe --always) .
#   docker run --rm -v $PWD/trustgate.yaml:/etc/trustgate/config/trustgate.yaml:ro trustgate:dev
# deploy/kubernetes/ runs it with a read-only root file system.

FROM golang:1.26-trixie AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/trustgate ./cmd/trustgate

FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/trustgate /usr/local/bin/trustgate
USER nonroot:nonroot
# The config, bundles and keys are mounted under /etc/trustgate; the working
# directory is the non-root user's home, where state files may be written.
WORKDIR /home/nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/trustgate"]
CMD ["serve", "--config", "/etc/trustgate/config/trustgate.yaml"]
