# The HvOrleans image: the silo (entry point) and the hv console beside it (kubectl exec … -- hv …).
#   docker build -t hvorleans/silo:<version> .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Silo/Silo.csproj -c Release -o /app/silo \
 && dotnet publish src/Client/Client.csproj -c Release -o /app/hv

FROM mcr.microsoft.com/dotnet/runtime:10.0
COPY --from=build /app /app
RUN printf '#!/bin/sh\nexec dotnet /app/hv/hv.dll "$@"\n' > /usr/local/bin/hv && chmod 755 /usr/local/bin/hv
# The images' non-root user (uid 1654), as infra/k8s/silo.yaml expects.
USER app
ENV HV_HOME=/tmp/hv DOTNET_CLI_TELEMETRY_OPTOUT=1
WORKDIR /app/silo
ENTRYPOINT ["dotnet", "/app/silo/HvOrleans.Silo.dll"]
