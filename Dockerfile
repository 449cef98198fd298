# Tether in a container. Two stages: the SDK publishes the same self-contained single file as
# packaging/build.sh; the final image is runtime-deps (libc, OpenSSL, CA certificates; no .NET runtime, since
# the binary carries its own) plus that one file and a config.
#
#   docker build -t tether .
#   docker run --rm -p 8080:8080 -v $PWD/tether.json:/etc/tether/tether.json:ro tether
#
# The image's own config (packaging/deb/tether.json) listens on 0.0.0.0:8080 and keeps the admin endpoint on
# the container's loopback; to reach it from outside, add -e TETHER__ADMIN__ADDRESS=0.0.0.0:9901 -p 9901:9901.
# `docker stop` sends SIGTERM, which drains: give it drain.delay + drain.timeout (docker stop -t 45).
# `docker kill -s HUP` reloads the config; `docker kill -s USR1` reopens the access log file.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Tether.slnx ./
COPY src/ src/
RUN dotnet publish src/Tether -c Release -r linux-x64 --self-contained true \
      -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true -p:DebugType=none \
      -o /out \
 && /out/tether --version

FROM mcr.microsoft.com/dotnet/runtime-deps:10.0
COPY --from=build /out/tether /usr/bin/tether
COPY packaging/deb/tether.json /etc/tether/tether.json
COPY LICENSE /usr/share/doc/tether/copyright
# runtime-deps has a non-root user `app` (uid 1654); ports below 1024 need --cap-add NET_BIND_SERVICE or a
# higher port in the config.
USER app
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tether"]
CMD ["run", "--config", "/etc/tether/tether.json"]
