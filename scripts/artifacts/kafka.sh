#!/usr/bin/env bash
# Stage a runnable Apache Kafka broker distribution (ZooKeeper mode) assembled from the Kafka
# jars on Maven Central, as $WHISK_ARTIFACTS/kafka/$KAFKA_VERSION/:
#   libs/     kafka_$KAFKA_SCALA_VERSION, kafka-clients, kafka-tools, ... and their runtime
#             dependencies, with the slf4j -> reload4j logging binding Kafka's own distribution uses
#   bin/      our launchers: kafka-server-start, kafka-run-class, kafka-topics, the console
#             producer and consumer, zookeeper-server-start, ... (scripts/artifacts/kafka/bin)
#   config/   server.properties, log4j.properties, tools-log4j.properties, zookeeper.properties
#   LICENSE, NOTICE (from the kafka-clients jar), VERSION
# What is fetched is scripts/artifacts/kafka/pom.xml; the versions come from versions.env.
# Maven's local repository stays where Maven keeps it (~/.m2), outside the clone, so staging
# again after the artifact directory was wiped downloads nothing.
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

here="$ARTIFACTS_SCRIPTS/kafka"
inputs=$(dir_inputs_hash "$ARTIFACTS_SCRIPTS/kafka.sh" "$here")
exit_if_staged kafka "$KAFKA_VERSION" "$inputs"

command -v mvn >/dev/null || { say "kafka: mvn (Maven 3.6.3 or later) is required" >&2; exit 1; }
command -v java >/dev/null || { say "kafka: java (17 or later) is required" >&2; exit 1; }

say "staging kafka $KAFKA_VERSION (scala $KAFKA_SCALA_VERSION) from Maven Central"
work=$(mktemp -d "$WHISK_CACHE/kafka-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
dist="$work/kafka-$KAFKA_VERSION"
mkdir -p "$dist/libs"

# Maven runs on a copy of the pom so that nothing it writes lands in the clone.
cp "$here/pom.xml" "$work/pom.xml"
mvn_args=(-q -B -Dstyle.color=never -f "$work/pom.xml"
    "-Dkafka.version=$KAFKA_VERSION" "-Dscala.binary.version=$KAFKA_SCALA_VERSION"
    dependency:copy-dependencies -DincludeScope=runtime "-DoutputDirectory=$dist/libs")
# Offline first: when ~/.m2 already holds everything this asks no server anything (not even
# for metadata); otherwise fetch what is missing. Maven's output is kept for a failure only
# (even with -q, Debian's Maven 3.8 prints stray colour escapes).
if ! mvn -o "${mvn_args[@]}" >"$work/mvn.log" 2>&1; then
    rm -rf "$dist/libs" && mkdir -p "$dist/libs"
    if ! mvn "${mvn_args[@]}" >"$work/mvn.log" 2>&1; then
        sed 's/\x1b\[[0-9;]*m//g' "$work/mvn.log" >&2
        say "kafka: mvn dependency:copy-dependencies failed" >&2
        exit 1
    fi
fi

# The jars the launchers rely on, and a single slf4j binding.
for jar in "kafka_$KAFKA_SCALA_VERSION-$KAFKA_VERSION" "kafka-clients-$KAFKA_VERSION" \
    "kafka-tools-$KAFKA_VERSION" "kafka-server-common-$KAFKA_VERSION" \
    "kafka-storage-$KAFKA_VERSION" "kafka-metadata-$KAFKA_VERSION" "kafka-raft-$KAFKA_VERSION"; do
    [ -f "$dist/libs/$jar.jar" ] || { say "kafka: $jar.jar was not fetched" >&2; exit 1; }
done
bindings=$(find "$dist/libs" -name 'slf4j-*.jar' ! -name 'slf4j-api-*' -printf '%f\n')
case "$bindings" in
slf4j-reload4j-*.jar) ;;
*) say "kafka: expected one slf4j-reload4j binding, found: ${bindings:-none}" >&2; exit 1 ;;
esac
compgen -G "$dist/libs/reload4j-*.jar" >/dev/null ||
    { say "kafka: reload4j was not fetched" >&2; exit 1; }

cp -R "$here/bin" "$here/config" "$dist/"
chmod 0755 "$dist"/bin/*
chmod 0644 "$dist"/config/* "$dist"/libs/*
python3 - "$dist/libs/kafka-clients-$KAFKA_VERSION.jar" "$dist" <<'EOF'
import sys, zipfile
from pathlib import Path
with zipfile.ZipFile(sys.argv[1]) as jar:
    for name in ("LICENSE", "NOTICE"):
        Path(sys.argv[2], name).write_bytes(jar.read(name))
EOF
printf 'kafka %s\nscala %s\n' "$KAFKA_VERSION" "$KAFKA_SCALA_VERSION" >"$dist/VERSION"

# The class path loads and is the version asked for.
got=$(KAFKA_HEAP_OPTS=-Xmx64m "$dist/bin/kafka-topics" --version 2>&1 | tail -n 1)
case "$got" in
"$KAFKA_VERSION"*) ;;
*) say "kafka: bin/kafka-topics --version said: $got" >&2; exit 1 ;;
esac

publish kafka "$KAFKA_VERSION" \
    "Maven Central org.apache.kafka:kafka_$KAFKA_SCALA_VERSION:$KAFKA_VERSION and org.apache.kafka:kafka-tools:$KAFKA_VERSION with their runtime dependencies; launchers and config from scripts/artifacts/kafka" \
    "$inputs" "$dist"
