# The embedded Toxiproxy-compatible fault proxy, as a container: its HTTP API on
# 8474; proxies are created through the API, or at start from a JSON file in
# Toxiproxy's populate format (--config FILE). Replaceable by a real Toxiproxy image.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

RUN python3 -m venv /opt/chaoskit

COPY wheels/deps/ /tmp/wheels/deps/
RUN /opt/chaoskit/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels/deps \
        -r /tmp/wheels/deps/requirements.txt \
    && rm -rf /tmp/wheels/deps
COPY wheels/chaoskit/ /tmp/wheels/chaoskit/
RUN /opt/chaoskit/bin/pip install --no-cache-dir --no-index --no-deps /tmp/wheels/chaoskit/*.whl \
    && rm -rf /tmp/wheels
COPY proxy_entry.py /opt/chaoskit/proxy_entry.py

ENV PATH=/opt/chaoskit/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
LABEL chaoskit=1 chaoskit.role=proxy
EXPOSE 8474
ENTRYPOINT ["python", "/opt/chaoskit/proxy_entry.py"]
CMD ["--host", "0.0.0.0", "--port", "8474", "--allow-remote-listen", "--allow-client", "gateway"]
