"""Wire and file formats: protobuf messages to and from the model, problem files (protobuf
JSON and Braun et al.'s ETC matrices), the instance generator and plain-text reports."""
