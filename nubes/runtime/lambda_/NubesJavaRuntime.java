// The in-worker side of a Java Lambda function: a Lambda Runtime API client (nubes' runtime
// adapter serves the API) that loads the handler class from the task root and calls it.
//
// Handlers: "pkg.Class::method" or "pkg.Class" (method handleRequest). Supported signatures:
// (InputStream, OutputStream[, Context]) as RequestStreamHandler does, and (Input[, Context])
// where Input is a Map, List, String, number, Boolean, Object or a bean with setters or public
// fields (JSON names matched case-insensitively). Context is aws-lambda-java-core's interface
// when the function bundles it (built as a proxy), else the parameter receives null. Results are
// written as JSON (beans through their getters).
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Proxy;
import java.lang.reflect.Type;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class NubesJavaRuntime {
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static String api;

    public static void main(String[] args) throws Exception {
        api = "http://" + System.getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime";
        String spec = System.getenv("_HANDLER");
        Object instance;
        Method method;
        try {
            ClassLoader loader = taskLoader(System.getenv("LAMBDA_TASK_ROOT"));
            Thread.currentThread().setContextClassLoader(loader);
            String className = spec.contains("::") ? spec.substring(0, spec.indexOf("::")) : spec;
            String methodName = spec.contains("::") ? spec.substring(spec.indexOf("::") + 2) : "handleRequest";
            Class<?> type = Class.forName(className, true, loader);
            method = findMethod(type, methodName);
            instance = Modifier.isStatic(method.getModifiers()) ? null : type.getDeclaredConstructor().newInstance();
        } catch (Throwable error) {
            post("/init/error", errorJson(unwrap(error), "Runtime.ClassNotFound"), "Runtime.ClassNotFound");
            System.exit(1);
            return;
        }
        while (true) {
            HttpResponse<byte[]> next = HTTP.send(
                HttpRequest.newBuilder(URI.create(api + "/invocation/next")).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
            String requestId = next.headers().firstValue("Lambda-Runtime-Aws-Request-Id").orElse("");
            long deadline = Long.parseLong(next.headers().firstValue("Lambda-Runtime-Deadline-Ms").orElse("0"));
            String arn = next.headers().firstValue("Lambda-Runtime-Invoked-Function-Arn").orElse("");
            try {
                byte[] output = invoke(instance, method, next.body(), context(method, requestId, deadline, arn));
                post("/invocation/" + requestId + "/response", new String(output, StandardCharsets.UTF_8), null);
            } catch (Throwable error) {
                Throwable cause = unwrap(error);
                StringWriter trace = new StringWriter();
                cause.printStackTrace(new PrintWriter(trace));
                System.err.print(trace);
                post("/invocation/" + requestId + "/error", errorJson(cause, null), cause.getClass().getSimpleName());
            }
            System.out.flush();
            System.err.flush();
        }
    }

    private static Throwable unwrap(Throwable error) {
        while (error instanceof InvocationTargetException && error.getCause() != null) {
            error = error.getCause();
        }
        return error;
    }

    private static void post(String path, String body, String errorType) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(api + path))
            .POST(HttpRequest.BodyPublishers.ofString(body));
        if (errorType != null) {
            request.header("Lambda-Runtime-Function-Error-Type", errorType);
        }
        HTTP.send(request.build(), HttpResponse.BodyHandlers.discarding());
    }

    private static String errorJson(Throwable error, String type) {
        List<Object> trace = new ArrayList<>();
        for (StackTraceElement frame : error.getStackTrace()) {
            trace.add(frame.toString());
        }
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("errorMessage", error.getMessage() == null ? error.toString() : error.getMessage());
        document.put("errorType", type != null && error instanceof ClassNotFoundException ? type : error.getClass().getName());
        document.put("stackTrace", trace);
        return Json.write(document);
    }

    private static ClassLoader taskLoader(String root) throws Exception {
        List<URL> urls = new ArrayList<>();
        urls.add(new File(root).toURI().toURL());
        File[] jars = new File(root, "lib").listFiles((dir, name) -> name.endsWith(".jar"));
        if (jars != null) {
            for (File jar : jars) {
                urls.add(jar.toURI().toURL());
            }
        }
        File[] rootJars = new File(root).listFiles((dir, name) -> name.endsWith(".jar"));
        if (rootJars != null) {
            for (File jar : rootJars) {
                urls.add(jar.toURI().toURL());
            }
        }
        return new URLClassLoader(urls.toArray(new URL[0]), NubesJavaRuntime.class.getClassLoader());
    }

    private static Method findMethod(Class<?> type, String name) throws NoSuchMethodException {
        Method found = null;
        for (Method candidate : type.getMethods()) {
            if (!candidate.getName().equals(name) || candidate.isBridge() || candidate.getParameterCount() > 3) {
                continue;
            }
            // Prefer the most specific signature (a generic handleRequest(Object, Context) has a
            // typed twin in the implementing class).
            if (found == null || candidate.getParameterTypes()[0] != Object.class) {
                found = candidate;
            }
        }
        if (found == null) {
            throw new NoSuchMethodException("No public method named " + name + " with appropriate method signature found on class " + type.getName());
        }
        return found;
    }

    private static Object context(Method method, String requestId, long deadline, String arn) {
        Class<?>[] parameters = method.getParameterTypes();
        Class<?> last = parameters.length == 0 ? null : parameters[parameters.length - 1];
        if (last == null || !last.isInterface() || !last.getName().endsWith(".Context")) {
            return null;
        }
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("getAwsRequestId", requestId);
        values.put("getFunctionName", System.getenv("AWS_LAMBDA_FUNCTION_NAME"));
        values.put("getFunctionVersion", System.getenv("AWS_LAMBDA_FUNCTION_VERSION"));
        values.put("getInvokedFunctionArn", arn);
        values.put("getLogGroupName", System.getenv("AWS_LAMBDA_LOG_GROUP_NAME"));
        values.put("getLogStreamName", System.getenv("AWS_LAMBDA_LOG_STREAM_NAME"));
        values.put("getMemoryLimitInMB", Integer.parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")));
        return Proxy.newProxyInstance(last.getClassLoader(), new Class<?>[] {last}, (proxy, m, args) -> {
            if (m.getName().equals("getRemainingTimeInMillis")) {
                return (int) Math.max(0, deadline - System.currentTimeMillis());
            }
            if (m.getName().equals("getLogger")) {
                return loggerProxy(m.getReturnType());
            }
            if (m.getName().equals("toString")) {
                return "Context(" + requestId + ")";
            }
            return values.get(m.getName());
        });
    }

    private static Object loggerProxy(Class<?> type) {
        if (!type.isInterface()) {
            return null;
        }
        return Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, m, args) -> {
            if (m.getName().equals("log") && args != null && args.length > 0) {
                Object message = args[0];
                System.out.println(message instanceof byte[] ? new String((byte[]) message, StandardCharsets.UTF_8) : String.valueOf(message));
            }
            return null;
        });
    }

    private static byte[] invoke(Object instance, Method method, byte[] payload, Object context) throws Exception {
        Class<?>[] parameters = method.getParameterTypes();
        if (parameters.length >= 2 && InputStream.class.isAssignableFrom(parameters[0]) && OutputStream.class.isAssignableFrom(parameters[1])) {
            ByteArrayOutputStream output = new ByteArrayOutputStream();
            Object[] args = parameters.length == 3
                ? new Object[] {new ByteArrayInputStream(payload), output, context}
                : new Object[] {new ByteArrayInputStream(payload), output};
            method.invoke(instance, args);
            return output.toByteArray();
        }
        Object[] args = new Object[parameters.length];
        Type[] generic = method.getGenericParameterTypes();
        for (int i = 0; i < parameters.length; i++) {
            boolean isContext = i == parameters.length - 1 && context != null && parameters[i].isInstance(context);
            if (isContext) {
                args[i] = context;
            } else if (i == 0) {
                String text = new String(payload, StandardCharsets.UTF_8);
                args[i] = Json.convert(Json.read(text.isEmpty() ? "null" : text), generic[0]);
            }
        }
        Object result = method.invoke(instance, args);
        if (method.getReturnType() == void.class) {
            return "null".getBytes(StandardCharsets.UTF_8);
        }
        return Json.write(result).getBytes(StandardCharsets.UTF_8);
    }

    /** Just enough JSON: parse to Map/List/String/Double/Boolean/null, convert to types, write. */
    static final class Json {
        private final String text;
        private int pos;

        private Json(String text) {
            this.text = text;
        }

        static Object read(String text) {
            Json parser = new Json(text);
            Object value = parser.value();
            parser.space();
            if (parser.pos != text.length()) {
                throw new IllegalArgumentException("trailing characters in JSON");
            }
            return value;
        }

        private void space() {
            while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
                pos++;
            }
        }

        private Object value() {
            space();
            char c = text.charAt(pos);
            if (c == '{') {
                Map<String, Object> map = new LinkedHashMap<>();
                pos++;
                space();
                if (text.charAt(pos) == '}') {
                    pos++;
                    return map;
                }
                while (true) {
                    space();
                    String key = string();
                    space();
                    pos++; // ':'
                    map.put(key, value());
                    space();
                    if (text.charAt(pos++) == '}') {
                        return map;
                    }
                }
            }
            if (c == '[') {
                List<Object> list = new ArrayList<>();
                pos++;
                space();
                if (text.charAt(pos) == ']') {
                    pos++;
                    return list;
                }
                while (true) {
                    list.add(value());
                    space();
                    if (text.charAt(pos++) == ']') {
                        return list;
                    }
                }
            }
            if (c == '"') {
                return string();
            }
            if (text.startsWith("true", pos)) {
                pos += 4;
                return Boolean.TRUE;
            }
            if (text.startsWith("false", pos)) {
                pos += 5;
                return Boolean.FALSE;
            }
            if (text.startsWith("null", pos)) {
                pos += 4;
                return null;
            }
            int start = pos;
            while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0) {
                pos++;
            }
            return Double.parseDouble(text.substring(start, pos));
        }

        private String string() {
            StringBuilder out = new StringBuilder();
            pos++; // opening quote
            while (true) {
                char c = text.charAt(pos++);
                if (c == '"') {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                char e = text.charAt(pos++);
                switch (e) {
                    case 'n': out.append('\n'); break;
                    case 't': out.append('\t'); break;
                    case 'r': out.append('\r'); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'u':
                        out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                        pos += 4;
                        break;
                    default: out.append(e);
                }
            }
        }

        @SuppressWarnings("unchecked")
        static Object convert(Object value, Type type) throws Exception {
            Class<?> raw = type instanceof ParameterizedType
                ? (Class<?>) ((ParameterizedType) type).getRawType()
                : type instanceof Class ? (Class<?>) type : Object.class;
            if (value == null) {
                return raw.isPrimitive() ? convert(0.0, raw) : null;
            }
            if (raw == Object.class || raw.isInstance(value) && !(value instanceof Collection) && !(value instanceof Map)) {
                return value;
            }
            if (raw == String.class) {
                return value instanceof String ? value : write(value);
            }
            if (value instanceof Double) {
                double d = (Double) value;
                if (raw == int.class || raw == Integer.class) return (int) d;
                if (raw == long.class || raw == Long.class) return (long) d;
                if (raw == double.class || raw == Double.class) return d;
                if (raw == float.class || raw == Float.class) return (float) d;
                if (raw == short.class || raw == Short.class) return (short) d;
                if (raw == Number.class) return d;
            }
            if ((raw == boolean.class || raw == Boolean.class) && value instanceof Boolean) {
                return value;
            }
            if (Map.class.isAssignableFrom(raw) && value instanceof Map) {
                Type inner = type instanceof ParameterizedType ? ((ParameterizedType) type).getActualTypeArguments()[1] : Object.class;
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<String, Object> entry : ((Map<String, Object>) value).entrySet()) {
                    out.put(entry.getKey(), convert(entry.getValue(), inner));
                }
                return out;
            }
            if (Collection.class.isAssignableFrom(raw) && value instanceof List) {
                Type inner = type instanceof ParameterizedType ? ((ParameterizedType) type).getActualTypeArguments()[0] : Object.class;
                List<Object> out = new ArrayList<>();
                for (Object item : (List<Object>) value) {
                    out.add(convert(item, inner));
                }
                return out;
            }
            if (raw.isArray() && value instanceof List) {
                List<Object> items = (List<Object>) value;
                Object out = Array.newInstance(raw.getComponentType(), items.size());
                for (int i = 0; i < items.size(); i++) {
                    Array.set(out, i, convert(items.get(i), raw.getComponentType()));
                }
                return out;
            }
            if (value instanceof Map) {
                return bean((Map<String, Object>) value, raw);
            }
            throw new IllegalArgumentException("Cannot convert " + value.getClass().getSimpleName() + " to " + raw.getName());
        }

        private static Object bean(Map<String, Object> values, Class<?> raw) throws Exception {
            Object out = raw.getDeclaredConstructor().newInstance();
            for (Map.Entry<String, Object> entry : values.entrySet()) {
                String key = entry.getKey();
                boolean done = false;
                for (Method setter : raw.getMethods()) {
                    if (setter.getParameterCount() == 1 && setter.getName().equalsIgnoreCase("set" + key)) {
                        setter.invoke(out, convert(entry.getValue(), setter.getGenericParameterTypes()[0]));
                        done = true;
                        break;
                    }
                }
                if (done) {
                    continue;
                }
                for (Field field : raw.getFields()) {
                    if (field.getName().equalsIgnoreCase(key) && !Modifier.isStatic(field.getModifiers())) {
                        field.set(out, convert(entry.getValue(), field.getGenericType()));
                        break;
                    }
                }
            }
            return out;
        }

        static String write(Object value) {
            StringBuilder out = new StringBuilder();
            write(value, out);
            return out.toString();
        }

        private static void write(Object value, StringBuilder out) {
            if (value == null) {
                out.append("null");
            } else if (value instanceof String || value instanceof Character || value instanceof Enum) {
                quote(value.toString(), out);
            } else if (value instanceof Double && ((Double) value) % 1 == 0 && !((Double) value).isInfinite()) {
                out.append(((Double) value).longValue());
            } else if (value instanceof Number || value instanceof Boolean) {
                out.append(value);
            } else if (value instanceof Map) {
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                    if (!first) out.append(',');
                    first = false;
                    quote(String.valueOf(entry.getKey()), out);
                    out.append(':');
                    write(entry.getValue(), out);
                }
                out.append('}');
            } else if (value instanceof Collection || value.getClass().isArray()) {
                out.append('[');
                Collection<?> items = value instanceof Collection ? (Collection<?>) value : arrayItems(value);
                boolean first = true;
                for (Object item : items) {
                    if (!first) out.append(',');
                    first = false;
                    write(item, out);
                }
                out.append(']');
            } else {
                Map<String, Object> properties = new LinkedHashMap<>();
                for (Method getter : value.getClass().getMethods()) {
                    String name = getter.getName();
                    if (getter.getParameterCount() != 0 || name.equals("getClass") || Modifier.isStatic(getter.getModifiers())) {
                        continue;
                    }
                    String property = name.startsWith("get") && name.length() > 3 ? name.substring(3)
                        : name.startsWith("is") && name.length() > 2 && getter.getReturnType() == boolean.class ? name.substring(2) : null;
                    if (property == null) {
                        continue;
                    }
                    try {
                        properties.put(Character.toLowerCase(property.charAt(0)) + property.substring(1), getter.invoke(value));
                    } catch (ReflectiveOperationException ignored) {
                        // a getter that fails is left out, as serializers do
                    }
                }
                for (Field field : value.getClass().getFields()) {
                    if (!Modifier.isStatic(field.getModifiers()) && !properties.containsKey(field.getName())) {
                        try {
                            properties.put(field.getName(), field.get(value));
                        } catch (IllegalAccessException ignored) {
                            // not readable: left out
                        }
                    }
                }
                write(properties, out);
            }
        }

        private static List<Object> arrayItems(Object array) {
            List<Object> items = new ArrayList<>();
            for (int i = 0; i < Array.getLength(array); i++) {
                items.add(Array.get(array, i));
            }
            return items;
        }

        private static void quote(String text, StringBuilder out) {
            out.append('"');
            for (char c : text.toCharArray()) {
                switch (c) {
                    case '"': out.append("\\\""); break;
                    case '\\': out.append("\\\\"); break;
                    case '\n': out.append("\\n"); break;
                    case '\r': out.append("\\r"); break;
                    case '\t': out.append("\\t"); break;
                    default:
                        if (c < 0x20) {
                            out.append(String.format("\\u%04x", (int) c));
                        } else {
                            out.append(c);
                        }
                }
            }
            out.append('"');
        }
    }
}
