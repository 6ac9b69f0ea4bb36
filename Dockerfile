# nubes on port 4566, its state on a volume. Lambda's python runtimes run on this image's Python;
# add node or a JDK to the image for other runtimes.
FROM python:3.11-slim
WORKDIR /opt/nubes
COPY pyproject.toml README.md LICENSE ./
COPY nubes ./nubes
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/nubes nubes \
    && mkdir -p /var/lib/nubes && chown nubes /var/lib/nubes
USER nubes
ENV NUBES_HOST=0.0.0.0 NUBES_DATA_DIR=/var/lib/nubes
VOLUME /var/lib/nubes
EXPOSE 4566
CMD ["nubes", "start"]
