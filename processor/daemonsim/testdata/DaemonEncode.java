// Serialises daemon messages with the MultiLangDaemon's own message classes
// and a default ObjectMapper, exactly as MessageWriter does. Used by
// TestEncodingMatchesDaemonClasses; compiled against jars/lib at test time.
//
// usage: java DaemonEncode <records.tsv> <out>
// records.tsv: base64(data) TAB base64(partitionKey) TAB sequenceNumber
//              TAB arrival millis or "-" TAB subSequenceNumber
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.multilang.messages.CheckpointMessage;
import software.amazon.kinesis.multilang.messages.InitializeMessage;
import software.amazon.kinesis.multilang.messages.LeaseLostMessage;
import software.amazon.kinesis.multilang.messages.ProcessRecordsMessage;
import software.amazon.kinesis.multilang.messages.ShardEndedMessage;
import software.amazon.kinesis.multilang.messages.ShutdownRequestedMessage;
import software.amazon.kinesis.retrieval.KinesisClientRecord;
import software.amazon.kinesis.retrieval.kpl.ExtendedSequenceNumber;

public class DaemonEncode {
    public static void main(String[] args) throws Exception {
        Base64.Decoder b64 = Base64.getDecoder();
        List<KinesisClientRecord> records = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            String[] f = line.split("\t", -1);
            KinesisClientRecord.KinesisClientRecordBuilder b = KinesisClientRecord.builder()
                    .data(ByteBuffer.wrap(b64.decode(f[0])))
                    .partitionKey(new String(b64.decode(f[1]), StandardCharsets.UTF_8))
                    .sequenceNumber(f[2])
                    .subSequenceNumber(Long.parseLong(f[4]));
            if (!f[3].equals("-")) {
                b.approximateArrivalTimestamp(Instant.ofEpochMilli(Long.parseLong(f[3])));
            }
            records.add(b.build());
        }
        ObjectMapper om = new ObjectMapper();
        List<Object> messages = new ArrayList<>();
        messages.add(new InitializeMessage(InitializationInput.builder().shardId("shardId-000000000003")
                .extendedSequenceNumber(new ExtendedSequenceNumber("TRIM_HORIZON", 0L)).build()));
        messages.add(new InitializeMessage(InitializationInput.builder().shardId("shardId-000000000004").build()));
        messages.add(new ProcessRecordsMessage(ProcessRecordsInput.builder().records(records).millisBehindLatest(0L).build()));
        messages.add(new ProcessRecordsMessage(ProcessRecordsInput.builder().records(new ArrayList<>()).build()));
        messages.add(new CheckpointMessage("123", null, null));
        messages.add(new CheckpointMessage(null, 5L, new IllegalArgumentException("x")));
        messages.add(new LeaseLostMessage());
        messages.add(new ShardEndedMessage());
        messages.add(new ShutdownRequestedMessage());
        StringBuilder out = new StringBuilder();
        for (Object m : messages) {
            out.append(om.writeValueAsString(m)).append('\n');
        }
        Files.write(Paths.get(args[1]), out.toString().getBytes(StandardCharsets.UTF_8));
    }
}
