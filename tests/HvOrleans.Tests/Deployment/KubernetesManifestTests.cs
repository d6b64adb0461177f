using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using HvOrleans.Cli;
using HvOrleans.Client.Cli;
using HvOrleans.Connection;
using HvOrleans.Silo.Hosting;
using HvOrleans.Tests.Infrastructure;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace HvOrleans.Tests.Deployment;

/// <summary>
/// infra/k8s checked as far as a machine without a Kubernetes cluster allows: every object read
/// strictly into the Kubernetes client's own API types (an unknown or misspelt field fails), then the
/// rules that tie the files to each other and to the code — selectors, the service account, the
/// permissions Orleans' pod watcher uses, the Hv__* names the silo binds, ports, secrets and files.
/// </summary>
public sealed class KubernetesManifestTests
{
    private static readonly string K8s = Path.Combine(Repo.Root, "infra", "k8s");

    private static List<object> Objects(string folder) =>
        Directory.GetFiles(folder, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml").Order()
            .SelectMany(f => KubernetesYaml.LoadAllFromString(File.ReadAllText(f), typeMap: null, strict: true)).ToList();

    private static List<object> All => [.. Objects(K8s), .. Objects(Path.Combine(K8s, "dev"))];

    private static V1Deployment Silo => All.OfType<V1Deployment>().Single(d => d.Metadata.Name == "hv-silo");

    [Fact]
    public void Every_manifest_reads_strictly_into_the_Kubernetes_API_types()
    {
        var kinds = All.Select(o => o.GetType().Name).Order().ToList();
        Assert.Equal(["V1Deployment", "V1Deployment", "V1Namespace", "V1PodDisruptionBudget", "V1Role", "V1RoleBinding", "V1Secret", "V1Service", "V1ServiceAccount"], kinds);
        Assert.Throws<YamlDotNet.Core.YamlException>(() => KubernetesYaml.LoadAllFromString(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 3}\n", typeMap: null, strict: true));
    }

    [Fact]
    public async Task Kustomizations_name_files_that_exist_and_the_TLS_files_hv_tls_init_writes()
    {
        string tls = Directory.CreateTempSubdirectory("hv-k8s-tls-").FullName;
        Assert.Equal(0, await new HvOrleans.Client.Cli.HvCli(TextWriter.Null, Console.Error).RunAsync(["tls", "init", "--dir", tls]));
        foreach (var folder in new[] { K8s, Path.Combine(K8s, "dev") })
        {
            var root = (YamlMappingNode)Yaml(Path.Combine(folder, "kustomization.yaml"));
            Assert.Equal("hvorleans", root["namespace"].ToString());
            foreach (var resource in ((YamlSequenceNode)root["resources"]).Select(r => r.ToString()))
            {
                string path = Path.GetFullPath(Path.Combine(folder, resource));
                Assert.True(File.Exists(path) || File.Exists(Path.Combine(path, "kustomization.yaml")), $"{folder}: resource {resource} is missing");
            }
            if (root.Children.TryGetValue("secretGenerator", out var generators))
                foreach (var source in ((YamlSequenceNode)generators).SelectMany(g => (YamlSequenceNode)((YamlMappingNode)g)["files"]))
                {
                    // key=tls/<file>: the <file> is one 'hv tls init' writes, and git ignores the folder.
                    string file = source.ToString().Split('=')[1];
                    Assert.True(File.Exists(Path.Combine(tls, Path.GetFileName(file))), $"hv tls init does not write {file}");
                    Assert.Contains("infra/k8s/dev/" + Path.GetDirectoryName(file) + "/", File.ReadAllLines(Path.Combine(Repo.Root, ".gitignore")));
                }
        }
    }

    [Fact]
    public void The_deployment_selects_its_pods_and_carries_the_labels_the_pod_watcher_selects_on()
    {
        var silo = Silo;
        var labels = silo.Spec.Template.Metadata.Labels;
        Assert.All(silo.Spec.Selector.MatchLabels, l => Assert.Equal(l.Value, labels[l.Key]));
        var budget = All.OfType<V1PodDisruptionBudget>().Single();
        Assert.All(budget.Spec.Selector.MatchLabels, l => Assert.Equal(l.Value, labels[l.Key]));

        // The cluster ids come from the labels themselves: Orleans never has to patch the pod (no 'patch' permission).
        var env = silo.Spec.Template.Spec.Containers.Single().Env.ToDictionary(e => e.Name);
        foreach (var (name, label) in new[] { ("ORLEANS_SERVICE_ID", "orleans/serviceId"), ("ORLEANS_CLUSTER_ID", "orleans/clusterId"),
                     ("Hv__ServiceId", "orleans/serviceId"), ("Hv__ClusterId", "orleans/clusterId") })
        {
            Assert.True(labels.ContainsKey(label), label);
            Assert.Equal($"metadata.labels['{label}']", env[name].ValueFrom.FieldRef.FieldPath);
        }
        Assert.Equal(("metadata.name", "metadata.namespace", "status.podIP"),
            (env["POD_NAME"].ValueFrom.FieldRef.FieldPath, env["POD_NAMESPACE"].ValueFrom.FieldRef.FieldPath, env["POD_IP"].ValueFrom.FieldRef.FieldPath));
    }

    [Fact]
    public void The_silo_service_account_may_get_list_and_watch_pods_and_nothing_more()
    {
        var objects = All;
        string account = Silo.Spec.Template.Spec.ServiceAccountName;
        Assert.Contains(objects.OfType<V1ServiceAccount>(), a => a.Metadata.Name == account);
        var binding = objects.OfType<V1RoleBinding>().Single();
        Assert.Contains(binding.Subjects, s => s.Kind == "ServiceAccount" && s.Name == account);
        var role = objects.OfType<V1Role>().Single(r => r.Metadata.Name == binding.RoleRef.Name);
        Assert.Equal("Role", binding.RoleRef.Kind);
        var rule = Assert.Single(role.Rules);
        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["pods"], rule.Resources);
        // What Orleans' Kubernetes agent calls: read its own pod, list the cluster's pods, watch them.
        Assert.Equal(["get", "list", "watch"], rule.Verbs.Order().ToArray());
    }

    [Fact]
    public void Every_Hv_setting_in_the_deployment_binds_to_a_real_option_and_the_ports_match()
    {
        var container = Silo.Spec.Template.Spec.Containers.Single();
        var literal = container.Env.Where(e => e.Name.StartsWith("Hv__", StringComparison.Ordinal) && e.Value is not null)
            .ToDictionary(e => e.Name.Replace("__", ":"), e => (string?)e.Value);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(literal).Build();
        // The whole Hv section (Hv:Tls included) binds to HvSiloOptions; an unknown name throws.
        var hv = configuration.GetSection(HvSiloOptions.Section).Get<HvSiloOptions>(o => o.ErrorOnUnknownConfiguration = true)!;
        var tls = hv.Tls;
        Assert.True(hv.Kubernetes);
        Assert.Equal(HvStorage.Azure, hv.Storage);

        var ports = container.Ports.ToDictionary(p => p.Name, p => p.ContainerPort);
        Assert.Equal((hv.SiloPort, hv.GatewayPort), (ports["silo"], ports["gateway"]));

        // The TLS files are the keys of the hv-tls secret, under its mount.
        var mount = container.VolumeMounts.Single(m => m.Name == "tls");
        var volume = Silo.Spec.Template.Spec.Volumes.Single(v => v.Name == "tls");
        Assert.Equal("hv-tls", volume.Secret.SecretName);
        var dev = (YamlMappingNode)Yaml(Path.Combine(K8s, "dev", "kustomization.yaml"));
        var generated = ((YamlSequenceNode)dev["secretGenerator"]).Cast<YamlMappingNode>().Single(g => g["name"].ToString() == "hv-tls");
        var keys = ((YamlSequenceNode)generated["files"]).Select(f => f.ToString().Split('=')[0]).ToHashSet();
        foreach (var path in new[] { tls.CaPath, tls.CertificatePath, tls.KeyPath })
        {
            Assert.Equal(mount.MountPath, Path.GetDirectoryName(path));
            Assert.Contains(Path.GetFileName(path), keys);
        }

        // The storage secret the deployment reads exists (in the dev overlay) with that key.
        var storage = container.Env.Single(e => e.Name == "Hv__ConnectionString").ValueFrom.SecretKeyRef;
        var secret = All.OfType<V1Secret>().Single(s => s.Metadata.Name == storage.Name);
        Assert.True(secret.StringData.ContainsKey(storage.Key));
    }

    [Fact]
    public void The_only_storage_key_in_the_repository_is_Azurites_published_development_key()
    {
        const string devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        var tracked = Git("ls-files").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(f => !f.EndsWith("package-lock.json", StringComparison.Ordinal)).Select(f => Path.Combine(Repo.Root, f)).Where(File.Exists).ToList();
        Assert.Contains(tracked, f => f.EndsWith("infra/k8s/dev/storage-secret.yaml", StringComparison.Ordinal));
        var keys = new Regex(@"AccountKey=([A-Za-z0-9+/=]{20,})");
        var privateKey = new Regex("-----BEGIN [A-Z ]*PRIVATE KEY-----");
        foreach (var file in tracked)
        {
            string text = File.ReadAllText(file);
            Assert.All(keys.Matches(text), m => Assert.Equal(devKey, m.Groups[1].Value));
            Assert.False(privateKey.IsMatch(text), $"{file} holds a private key");
        }
    }

    [Fact]
    public void The_dev_Azurite_image_is_the_version_the_tests_run()
    {
        string version = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, "package.json")))
            .RootElement.GetProperty("devDependencies").GetProperty("azurite").GetString()!.TrimStart('^', '~');
        var azurite = All.OfType<V1Deployment>().Single(d => d.Metadata.Name == "azurite").Spec.Template.Spec.Containers.Single();
        Assert.Equal($"mcr.microsoft.com/azure-storage/azurite:{version}", azurite.Image);
        Assert.Contains("--skipApiVersionCheck", azurite.Args);
    }

    private static YamlNode Yaml(string path)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(path));
        stream.Load(reader);
        return stream.Documents.Single().RootNode;
    }

    private static string Git(string arguments)
    {
        var start = new ProcessStartInfo("git", arguments) { WorkingDirectory = Repo.Root, RedirectStandardOutput = true };
        using var git = Process.Start(start)!;
        string output = git.StandardOutput.ReadToEnd();
        git.WaitForExit();
        return output;
    }
}
