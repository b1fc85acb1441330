# One image for every service; the command picks which one runs.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg espeak-ng curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY constraints.txt ./
COPY libs libs
COPY services services
COPY deploy/local deploy/local
RUN pip install --no-cache-dir -c constraints.txt \
      -e libs/contracts -e libs/servicekit -e deploy/local \
      -e services/gateway -e services/auth -e services/storage -e services/aligner -e services/janitor \
      -e services/notifier
RUN useradd --system --uid 10001 app
USER app
# The containers' root filesystem is read-only (docker-compose.yml, deploy/k8s): no .pyc writes.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
CMD ["python", "-m", "gateway_service"]
