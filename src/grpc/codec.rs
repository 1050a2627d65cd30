//! The codec every statusgate service is generated with (`build.rs` names it
//! as the `codec_path`): tonic-prost's, except that a message that does not
//! decode is the caller's mistake, `INVALID_ARGUMENT` with the decoder's
//! message and `ErrorInfo` reason `SerializationException` (prost's own
//! codec answers `INTERNAL`, which reads as a server failure and is retried).

use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

use super::status::malformed_message;

/// [`ProstCodec`] with decode errors mapped to [`malformed_message`].
#[derive(Debug, Clone)]
pub struct StatusgateCodec<T, U> {
    prost: ProstCodec<T, U>,
}

impl<T, U> Default for StatusgateCodec<T, U> {
    fn default() -> Self {
        Self {
            prost: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for StatusgateCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StatusgateDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.prost.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        StatusgateDecoder {
            prost: self.prost.decoder(),
        }
    }
}

/// Decodes with prost; a failure names what the decoder found.
#[derive(Debug)]
pub struct StatusgateDecoder<U> {
    prost: ProstDecoder<U>,
}

impl<U: prost::Message + Default> Decoder for StatusgateDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // prost's decoder fails only when the bytes are not a valid message.
        self.prost
            .decode(buf)
            .map_err(|status| malformed_message(status.message()))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.prost.buffer_settings()
    }
}
